package web

import (
	"encoding"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/meridian-gslb/meridian/config"
)

// Redacted replaces a secret's value in the API's answers.
const Redacted = "<redacted>"

// secretName matches the names of fields and map keys whose values are secrets: a future
// config field such as PeerSecret or a monitor header such as Authorization. A field naming a
// file that holds the secret (TokenFile, PeerSecretFile) is a path, shown as it is.
var secretName = regexp.MustCompile(`(?i)secret|token|passw|authoriz|cookie|api[-_]?key|credential|private[-_]?key`)

func isSecret(name string) bool {
	return secretName.MatchString(name) && !strings.HasSuffix(name, "File")
}

// configJSON turns the running config into plain JSON values: struct fields become snake_case
// keys, durations strings ("1m30s"), times RFC 3339 in UTC, addresses their text form, and
// every secret-looking field or map entry (isSecret) Redacted unless it is empty. Maps
// marshal with sorted keys, so the answer is deterministic.
func configJSON(cfg *config.Config) any {
	return redact(reflect.ValueOf(cfg), "")
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
	textType     = reflect.TypeFor[encoding.TextMarshaler]()
)

// redact converts v, found under the field or key name, as configJSON describes.
func redact(v reflect.Value, name string) any {
	if name != "" && isSecret(name) {
		if v.IsZero() {
			return zeroJSON(v)
		}
		return Redacted
	}
	switch {
	case v.Type() == durationType:
		return time.Duration(v.Int()).String()
	case v.Type() == timeType:
		t := v.Interface().(time.Time)
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format(time.RFC3339)
	case v.Type().Implements(textType) && v.Kind() != reflect.Pointer && v.Kind() != reflect.Interface:
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return nil
		}
		return string(b)
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return redact(v.Elem(), "")
	case reflect.Struct:
		out := map[string]any{}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			out[snake(f.Name)] = redact(v.Field(i), f.Name)
		}
		return out
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return []any{}
		}
		out := make([]any, v.Len())
		for i := range v.Len() {
			out[i] = redact(v.Index(i), "")
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		iter := v.MapRange()
		for iter.Next() {
			k := iter.Key().String()
			out[k] = redact(iter.Value(), k)
		}
		return out
	default:
		return v.Interface()
	}
}

// zeroJSON is an empty secret as it is: "" stays "", so one can see that none is set.
func zeroJSON(v reflect.Value) any {
	if v.Kind() == reflect.String {
		return ""
	}
	return nil
}

// snake turns a Go field name into a JSON key: TokenFile → token_file, EDNSBuffer →
// edns_buffer, QName → q_name, UDPSockets → udp_sockets.
func snake(s string) string {
	r := []rune(s)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 {
			prevLower := unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1])
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if prevLower || (unicode.IsUpper(r[i-1]) && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

// config: GET /api/v1/config → the running config (configJSON), with source and loaded_at.
func (a *api) config(w http.ResponseWriter, _ *http.Request) {
	cfg := a.cfg()
	if cfg == nil {
		writeError(w, http.StatusServiceUnavailable, "no config loaded")
		return
	}
	writeJSON(w, http.StatusOK, configJSON(cfg))
}

// reloadConfig: POST /api/v1/reload[?allow_zone_loss=true] (bearer token) → re-reads the
// config file as SIGHUP does: 200 {"loaded_at": ...}, or 422 {"error": the problems}, or 409
// when the new config would drop every zone or most of them and allow_zone_loss was not given;
// after an error the running config keeps serving.
func (a *api) reloadConfig(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(w, r) {
		return
	}
	allow := false
	if v := r.URL.Query().Get("allow_zone_loss"); v != "" {
		var err error
		if allow, err = strconv.ParseBool(v); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("allow_zone_loss=%q: want true or false", v))
			return
		}
	}
	who := "api " + remoteHost(r)
	if err := a.reload(allow); err != nil {
		a.log.Warn("config reload via API rejected", "who", who, "err", err)
		code := http.StatusUnprocessableEntity
		if zl := new(config.ZoneLossError); errors.As(err, &zl) {
			code = http.StatusConflict
		}
		writeError(w, code, err.Error())
		return
	}
	out := map[string]any{}
	if a.cfg != nil {
		if cfg := a.cfg(); cfg != nil {
			out["loaded_at"] = cfg.LoadedAt.UTC().Format(time.RFC3339)
			out["source"] = cfg.Source
		}
	}
	a.log.Info("config reloaded via API", "who", who)
	writeJSON(w, http.StatusOK, out)
}

// replaceProcess: POST /api/v1/replace (bearer token) → starts the binary again, hands it the
// sockets and stops this process once it serves: 200 {"pid": N} (the new process), 409 while
// another replace runs, 500 when the new process did not take over (this one keeps serving).
func (a *api) replaceProcess(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(w, r) {
		return
	}
	who := "api " + remoteHost(r)
	a.log.Info("replace requested", "who", who)
	pid, err := a.replace(r.Context())
	if err != nil {
		code := http.StatusInternalServerError
		if strings.Contains(err.Error(), "already in progress") {
			code = http.StatusConflict
		}
		writeError(w, code, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"pid": pid})
}
