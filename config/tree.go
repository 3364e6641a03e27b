package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// The TOML document is first read into a tree of values that remember where they were written,
// so that every later check can name its line and column, and type errors are collected per
// field instead of stopping the decode at the first.

type kind uint8

const (
	kTable kind = iota
	kArray
	kString
	kInteger
	kFloat
	kBool
	kDateTime
)

func (k kind) String() string {
	return [...]string{"table", "array", "string", "integer", "float", "boolean", "date-time"}[k]
}

type pos struct{ line, col int }

type value struct {
	kind   kind
	pos    pos // where the value (or, for tables, the header or key) is written
	keyPos pos // where its key is written
	str    string
	num    int64
	table  *table
	arr    []*value
	// arrayOfTables marks an array built by [[header]] blocks.
	arrayOfTables bool
}

type table struct {
	keys []string
	m    map[string]*value
	// implicit tables were only named as a prefix of a dotted key or header.
	implicit bool
}

func newTable() *table { return &table{m: map[string]*value{}} }

func (t *table) set(k string, v *value) {
	t.keys = append(t.keys, k)
	t.m[k] = v
}

// tomlTree parses data into a tree, returning the syntax error (with its position) if any.
func tomlTree(data []byte, problem func(pos, string, string)) (*table, bool) {
	var p unstable.Parser
	p.Reset(data)
	root := newTable()
	cur := root
	curPath := ""
	// Where each line starts, found once: go-toml's Parser.Shape counts the lines from the top
	// for every position, which made a large config's load quadratic (a 15,000-line file took
	// minutes). Columns count bytes from 1, as Shape's do.
	var starts []int
	starts = append(starts, 0)
	for i, c := range data {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	at := func(r unstable.Range) pos {
		if r.Length == 0 && r.Offset == 0 {
			return pos{}
		}
		off := int(r.Offset)
		line := sort.Search(len(starts), func(i int) bool { return starts[i] > off }) // 1-based
		return pos{line, off - starts[line-1] + 1}
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.KeyValue:
			keys, kpos := keyParts(e.Key(), at)
			v, err := convert(e.Value(), at)
			if err != nil {
				problem(kpos[len(kpos)-1], joinPath(curPath, keys...), err.Error())
				continue
			}
			v.keyPos = kpos[len(kpos)-1]
			if v.pos == (pos{}) {
				v.pos = v.keyPos
			}
			tbl, path, ok := descend(cur, curPath, keys[:len(keys)-1], kpos, problem)
			if !ok {
				continue
			}
			k := keys[len(keys)-1]
			if _, dup := tbl.m[k]; dup {
				problem(v.keyPos, joinPath(path, k), "key is defined twice")
				continue
			}
			tbl.set(k, v)
		case unstable.Table, unstable.ArrayTable:
			keys, kpos := keyParts(e.Key(), at)
			hdr := kpos[0]
			hdr.col = max(1, hdr.col-1)
			if e.Kind == unstable.ArrayTable {
				hdr.col = max(1, hdr.col-1)
			}
			parent, path, ok := descend(root, "", keys[:len(keys)-1], kpos, problem)
			if !ok {
				cur, curPath = newTable(), "(ignored)"
				continue
			}
			k := keys[len(keys)-1]
			path = joinPath(path, k)
			existing := parent.m[k]
			if e.Kind == unstable.Table {
				switch {
				case existing == nil:
					t := newTable()
					parent.set(k, &value{kind: kTable, table: t, pos: hdr, keyPos: hdr})
					cur, curPath = t, path
				case existing.kind == kTable && existing.table.implicit:
					existing.table.implicit = false
					existing.pos, existing.keyPos = hdr, hdr
					cur, curPath = existing.table, path
				default:
					problem(hdr, path, "table is defined twice")
					cur, curPath = newTable(), "(ignored)"
				}
				continue
			}
			switch {
			case existing == nil:
				existing = &value{kind: kArray, arrayOfTables: true, pos: hdr, keyPos: hdr}
				parent.set(k, existing)
			case existing.kind != kArray || !existing.arrayOfTables:
				problem(hdr, path, fmt.Sprintf("[[%s]] cannot extend a %s defined above", strings.Join(keys, "."), existing.kind))
				cur, curPath = newTable(), "(ignored)"
				continue
			}
			t := newTable()
			existing.arr = append(existing.arr, &value{kind: kTable, table: t, pos: hdr, keyPos: hdr})
			cur, curPath = t, fmt.Sprintf("%s[%d]", path, len(existing.arr)-1)
		}
	}
	if err := p.Error(); err != nil {
		ps := pos{}
		var perr *unstable.ParserError
		if pe, ok := err.(*unstable.ParserError); ok {
			perr = pe
			if len(perr.Highlight) > 0 {
				ps = at(p.Range(perr.Highlight))
			}
		}
		problem(ps, "", "TOML syntax: "+err.Error())
		return nil, false
	}
	return root, true
}

// descend walks (creating implicit tables) from t along keys.
func descend(t *table, path string, keys []string, kpos []pos, problem func(pos, string, string)) (*table, string, bool) {
	for i, k := range keys {
		path = joinPath(path, k)
		v := t.m[k]
		switch {
		case v == nil:
			nt := newTable()
			nt.implicit = true
			t.set(k, &value{kind: kTable, table: nt, pos: kpos[i], keyPos: kpos[i]})
			t = nt
		case v.kind == kTable:
			t = v.table
		case v.kind == kArray && v.arrayOfTables && len(v.arr) > 0:
			t = v.arr[len(v.arr)-1].table
			path = fmt.Sprintf("%s[%d]", path, len(v.arr)-1)
		default:
			problem(kpos[i], path, fmt.Sprintf("is a %s, not a table", v.kind))
			return nil, "", false
		}
	}
	return t, path, true
}

func keyParts(it unstable.Iterator, at func(unstable.Range) pos) ([]string, []pos) {
	var keys []string
	var ps []pos
	for it.Next() {
		n := it.Node()
		keys = append(keys, string(n.Data))
		ps = append(ps, at(n.Raw))
	}
	return keys, ps
}

func convert(n *unstable.Node, at func(unstable.Range) pos) (*value, error) {
	v := &value{pos: at(n.Raw)}
	switch n.Kind {
	case unstable.String:
		v.kind, v.str = kString, string(n.Data)
	case unstable.Integer:
		i, err := strconv.ParseInt(strings.ReplaceAll(string(n.Data), "_", ""), 0, 64)
		if err != nil {
			return nil, fmt.Errorf("integer %s out of range", n.Data)
		}
		v.kind, v.num = kInteger, i
	case unstable.Float:
		v.kind, v.str = kFloat, string(n.Data)
	case unstable.Bool:
		v.kind = kBool
		if string(n.Data) == "true" {
			v.num = 1
		}
	case unstable.Array:
		v.kind = kArray
		for it := n.Children(); it.Next(); {
			c, err := convert(it.Node(), at)
			if err != nil {
				return nil, err
			}
			if v.pos == (pos{}) {
				v.pos = c.pos
			}
			v.arr = append(v.arr, c)
		}
	case unstable.InlineTable:
		v.kind, v.table = kTable, newTable()
		for it := n.Children(); it.Next(); {
			kv := it.Node()
			keys, kpos := keyParts(kv.Key(), at)
			c, err := convert(kv.Value(), at)
			if err != nil {
				return nil, err
			}
			c.keyPos = kpos[len(kpos)-1]
			if c.pos == (pos{}) {
				c.pos = c.keyPos
			}
			if v.pos == (pos{}) {
				v.pos = kpos[0]
			}
			t := v.table
			for i, k := range keys[:len(keys)-1] {
				sub := t.m[k]
				if sub == nil {
					sub = &value{kind: kTable, table: newTable(), pos: kpos[i], keyPos: kpos[i]}
					t.set(k, sub)
				}
				if sub.kind != kTable {
					return nil, fmt.Errorf("%s is a %s, not a table", k, sub.kind)
				}
				t = sub.table
			}
			k := keys[len(keys)-1]
			if _, dup := t.m[k]; dup {
				return nil, fmt.Errorf("key %q is defined twice", k)
			}
			t.set(k, c)
		}
	default:
		v.kind, v.str = kDateTime, string(n.Data)
	}
	return v, nil
}

// joinPath appends keys to a dotted path, quoting keys that are not bare.
func joinPath(path string, keys ...string) string {
	for _, k := range keys {
		if path != "" {
			path += "."
		}
		path += quoteKey(k)
	}
	return path
}

func quoteKey(k string) string {
	if k == "" {
		return `""`
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return strconv.Quote(k)
		}
	}
	return k
}
