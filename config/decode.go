package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// decoder collects problems while the schema pulls typed values out of the tree.
type decoder struct {
	file  string
	probs Problems
	// after are checks that need the whole config (resolveSpill), run once it is decoded.
	after []func(*Config)
}

func (d *decoder) add(p pos, path, msg string) {
	d.probs = append(d.probs, Problem{File: d.file, Line: p.line, Col: p.col, Path: path, Msg: msg})
}

// obj is one TOML table being decoded. Every key the schema asks for becomes known; Done reports
// the rest as unknown, with the closest known key as a suggestion.
type obj struct {
	d     *decoder
	t     *table
	path  string
	pos   pos
	known []string
}

// child is the path of key below this table; key may carry an index, as in "dns[1]".
func (o *obj) child(key string) string {
	if i := strings.IndexByte(key, '['); i > 0 {
		return joinPath(o.path, key[:i]) + key[i:]
	}
	return joinPath(o.path, key)
}

func (o *obj) get(key string) *value {
	o.known = append(o.known, key)
	return o.t.m[key]
}

func (o *obj) problem(v *value, key, format string, args ...any) {
	p := o.pos
	if v != nil {
		p = v.pos
	}
	o.d.add(p, o.child(key), fmt.Sprintf(format, args...))
}

func (o *obj) wrongType(v *value, key, want string) {
	o.problem(v, key, "want %s, got %s", want, v.kind)
}

// Done reports keys the schema did not ask for.
func (o *obj) Done() {
	for _, k := range o.t.keys {
		if slices.Contains(o.known, k) {
			continue
		}
		v := o.t.m[k]
		msg := fmt.Sprintf("unknown key %q", k)
		if s := suggest(k, o.known); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		where := ""
		if o.path != "" {
			where = " in " + o.path
		}
		o.d.add(v.keyPos, "", msg+where)
	}
}

func (o *obj) String(key, def string) (string, *value) {
	v := o.get(key)
	if v == nil {
		return def, nil
	}
	if v.kind != kString {
		o.wrongType(v, key, "a string")
		return def, nil
	}
	return v.str, v
}

func (o *obj) Int(key string, def, lo, hi int64) (int64, *value) {
	v := o.get(key)
	if v == nil {
		return def, nil
	}
	if v.kind != kInteger {
		o.wrongType(v, key, "an integer")
		return def, nil
	}
	if v.num < lo || v.num > hi {
		o.problem(v, key, "%d is out of range %d..%d", v.num, lo, hi)
		return def, nil
	}
	return v.num, v
}

// Seconds reads a duration: an integer number of seconds or a string such as "5m".
func (o *obj) Seconds(key string, def uint32) (uint32, *value) {
	v := o.get(key)
	if v == nil {
		return def, nil
	}
	var n int64
	switch v.kind {
	case kInteger:
		n = v.num
	case kString:
		var err error
		if n, err = parseSeconds(v.str); err != nil {
			o.problem(v, key, "%v", err)
			return def, nil
		}
	default:
		o.problem(v, key, "want a duration such as \"5m\" or a number of seconds, got %s", v.kind)
		return def, nil
	}
	if n < 0 || n > maxTTL {
		o.problem(v, key, "%d seconds is out of range 0..%d", n, maxTTL)
		return def, nil
	}
	return uint32(n), v
}

func (o *obj) Strings(key string) ([]string, []*value, *value) {
	v := o.get(key)
	if v == nil {
		return nil, nil, nil
	}
	if v.kind != kArray {
		o.wrongType(v, key, "an array of strings")
		return nil, nil, v
	}
	var out []string
	var vals []*value
	for i, e := range v.arr {
		if e.kind != kString {
			o.problem(e, fmt.Sprintf("%s[%d]", key, i), "want a string, got %s", e.kind)
			continue
		}
		out = append(out, e.str)
		vals = append(vals, e)
	}
	return out, vals, v
}

// Table returns the sub-table at key, or nil when it is absent (or not a table).
func (o *obj) Table(key string) *obj {
	v := o.get(key)
	if v == nil {
		return nil
	}
	if v.kind != kTable {
		o.wrongType(v, key, "a table")
		return nil
	}
	return &obj{d: o.d, t: v.table, path: o.child(key), pos: v.pos}
}

// Tables returns the tables of an array of tables ([[key]] blocks or an inline array).
func (o *obj) Tables(key string) []*obj {
	v := o.get(key)
	if v == nil {
		return nil
	}
	if v.kind != kArray {
		o.wrongType(v, key, "an array of tables")
		return nil
	}
	var out []*obj
	for i, e := range v.arr {
		p := fmt.Sprintf("%s[%d]", o.child(key), i)
		if e.kind != kTable {
			o.d.add(e.pos, p, fmt.Sprintf("want a table, got %s", e.kind))
			continue
		}
		out = append(out, &obj{d: o.d, t: e.table, path: p, pos: e.pos})
	}
	return out
}

// Each visits every entry of a table whose keys are names (zones."example.test").
func (o *obj) Each(fn func(key string, sub *obj)) {
	for _, k := range o.t.keys {
		o.known = append(o.known, k)
		v := o.t.m[k]
		if v.kind != kTable {
			o.wrongType(v, k, "a table")
			continue
		}
		fn(k, &obj{d: o.d, t: v.table, path: o.child(k), pos: v.pos})
	}
}

// Float reads a number (integer or float) within [lo, hi].
func (o *obj) Float(key string, def, lo, hi float64) (float64, *value) {
	v := o.get(key)
	if v == nil {
		return def, nil
	}
	var f float64
	switch v.kind {
	case kInteger:
		f = float64(v.num)
	case kFloat:
		var err error
		if f, err = strconv.ParseFloat(strings.ReplaceAll(v.str, "_", ""), 64); err != nil {
			o.problem(v, key, "%q is not a number", v.str)
			return def, nil
		}
	default:
		o.wrongType(v, key, "a number")
		return def, nil
	}
	if math.IsNaN(f) || f < lo || f > hi {
		o.problem(v, key, "%g is out of range %g..%g", f, lo, hi)
		return def, nil
	}
	return f, v
}

func (o *obj) Bool(key string, def bool) (bool, *value) {
	v := o.get(key)
	if v == nil {
		return def, nil
	}
	if v.kind != kBool {
		o.wrongType(v, key, "true or false")
		return def, nil
	}
	return v.num == 1, v
}

// Word reads a string that must be one of words (case-insensitive); it returns it lower-case.
func (o *obj) Word(key, def string, words ...string) (string, *value) {
	s, v := o.String(key, def)
	if v == nil {
		return def, nil
	}
	s = strings.ToLower(s)
	if !slices.Contains(words, s) {
		msg := fmt.Sprintf("%q is not one of %s", s, strings.Join(words, ", "))
		if g := suggest(s, words); g != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", g)
		}
		o.problem(v, key, "%s", msg)
		return def, nil
	}
	return s, v
}

// EachString visits every entry of a table whose keys are data and whose values are strings
// (geo.nets: "CIDR" = "region").
func (o *obj) EachString(fn func(key, val string, v *value)) {
	for _, k := range o.t.keys {
		o.known = append(o.known, k)
		v := o.t.m[k]
		if v.kind != kString {
			o.wrongType(v, k, "a string")
			continue
		}
		fn(k, v.str, v)
	}
}

// Duration reads a duration such as "500ms" or "2s" (an integer is seconds) within [lo, hi].
func (o *obj) Duration(key string, def, lo, hi time.Duration) (time.Duration, *value) {
	v := o.get(key)
	if v == nil {
		return def, nil
	}
	var d time.Duration
	switch v.kind {
	case kInteger:
		d = time.Duration(v.num) * time.Second
	case kString:
		var err error
		if d, err = parseDuration(v.str); err != nil {
			o.problem(v, key, "%v", err)
			return def, nil
		}
	default:
		o.problem(v, key, "want a duration such as \"2s\" or \"500ms\", got %s", v.kind)
		return def, nil
	}
	if d < lo || d > hi {
		o.problem(v, key, "%v is out of range %v..%v", d, lo, hi)
		return def, nil
	}
	return d, v
}
