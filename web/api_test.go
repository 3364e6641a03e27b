package web

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/store"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const token = "s3cret"

// now is the store's clock: every time in the API's answers derives from it.
var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// newAPI opens a store with two monitored targets and their reports, and returns the web
// server's handler over it with the given token ("" disables changes).
func newAPI(t testing.TB, tok string) (http.Handler, *store.Store) {
	t.Helper()
	s, st := newAPIServer(t, tok)
	return s.srv.Handler, st
}

// newAPIServer is newAPI's server itself, to listen on a real socket.
func newAPIServer(t testing.TB, tok string) (*Server, *store.Store) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	st.SetRules(map[string]store.Rule{
		"a/127.0.0.1":   {Interval: time.Second},
		"a/2001:db8::1": {Interval: time.Second},
	})
	for _, o := range []health.Observation{
		{Target: "a/127.0.0.1", Prober: "n1", Up: true, RTT: 1500 * time.Microsecond, At: now.Add(-time.Second)},
		{Target: "a/127.0.0.1", Prober: "n2", Up: true, RTT: 2 * time.Millisecond, At: now.Add(-time.Second)},
		{Target: "a/2001:db8::1", Prober: "n1", Up: false, Err: "connect: <refused>", At: now.Add(-time.Second)},
		{Target: "a/2001:db8::1", Prober: "n2", Up: false, Err: "timeout", At: now.Add(-10 * time.Second)},
	} {
		if err := st.Record(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	s := New(prometheus.NewRegistry(), func() error { return nil }, &API{Health: st, Token: tok}, slog.New(slog.DiscardHandler))
	return s, st
}

// do serves one request; token "" sends no Authorization header.
func do(t *testing.T, h http.Handler, method, path, tok, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	return w.Code, w.Body.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s: got\n%s\nwant\n%s", path, got, want)
	}
}

func TestAPI(t *testing.T) {
	h, _ := newAPI(t, token)
	tests := []struct {
		name, method, path, tok, body string
		code                          int
		golden                        string // compare the body with testdata/golden.golden
		contains                      string
	}{
		{"list", "GET", "/api/v1/endpoints", "", "", 200, "endpoints", ""},
		{"one v4", "GET", "/api/v1/endpoints/a/127.0.0.1", "", "", 200, "endpoint_v4", ""},
		{"one v6", "GET", "/api/v1/endpoints/a/2001:db8::1", "", "", 200, "endpoint_v6", ""},
		{"unknown", "GET", "/api/v1/endpoints/a/192.0.2.9", "", "", 404, "", `"error": "unknown endpoint a/192.0.2.9"`},
		{"events", "GET", "/api/v1/events?target=a/2001:db8::1", "", "", 200, "events", ""},
		{"events after", "GET", "/api/v1/events?after=1&limit=1", "", "", 200, "", `"seq": 2`},
		{"events bad limit", "GET", "/api/v1/events?limit=x", "", "", 400, "", `"error": "limit \"x\"`},
		{"events since after all of them", "GET", "/api/v1/events?since=2025-03-01T12:00:01Z", "", "", 200, "", `"events": []`},
		{"events until after all of them", "GET", "/api/v1/events?until=2025-03-01T12:00:01Z", "", "", 200, "", `"seq": 1`},
		{"events bad since", "GET", "/api/v1/events?since=yesterday", "", "", 400, "", `"error": "since \"yesterday\"`},
		{"no such path", "GET", "/api/v2/nope", "", "", 404, "", `"error"`},
		{"list is read only", "POST", "/api/v1/endpoints", token, "", 405, "", `"error"`},
		{"override without token", "POST", "/api/v1/endpoints/a/127.0.0.1/override", "", `{"kind":"drain"}`, 401, "", `"error": "missing or wrong bearer token"`},
		{"override wrong token", "POST", "/api/v1/endpoints/a/127.0.0.1/override", "wrong", `{"kind":"drain"}`, 401, "", `"error"`},
		{"clear wrong token", "DELETE", "/api/v1/endpoints/a/127.0.0.1/override", "s3cre", "", 401, "", `"error"`},
		{"override unknown", "POST", "/api/v1/endpoints/a/192.0.2.9/override", token, `{"kind":"drain"}`, 404, "", `"error": "unknown endpoint a/192.0.2.9`},
		{"clear unknown", "DELETE", "/api/v1/endpoints/b/192.0.2.9/override", token, "", 404, "", `"error"`},
		{"override bad kind", "POST", "/api/v1/endpoints/a/127.0.0.1/override", token, `{"kind":"none"}`, 400, "", `want drain, force-down or force-up`},
		{"override bad body", "POST", "/api/v1/endpoints/a/127.0.0.1/override", token, `{"kind":`, 400, "", `bad request body`},
		{"override html is data", "POST", "/api/v1/endpoints/a/127.0.0.1/override", token, `{"kind":"<b>"}`, 400, "", `\u003cb\u003e`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, h, tc.method, tc.path, tc.tok, tc.body)
			if code != tc.code {
				t.Errorf("%s %s = %d %s, want %d", tc.method, tc.path, code, body, tc.code)
			}
			if !strings.Contains(body, tc.contains) {
				t.Errorf("%s %s body %s, want it to contain %s", tc.method, tc.path, body, tc.contains)
			}
			if tc.golden != "" {
				golden(t, tc.golden, body)
			}
		})
	}
}

func TestAPIChangesDisabled(t *testing.T) {
	h, _ := newAPI(t, "")
	for _, m := range []string{"POST", "DELETE"} {
		code, body := do(t, h, m, "/api/v1/endpoints/a/127.0.0.1/override", token, `{"kind":"drain"}`)
		if code != 403 || !strings.Contains(body, "changes are disabled: set [server] token_file") {
			t.Errorf("%s without a token file = %d %s, want 403", m, code, body)
		}
	}
}

func TestAPIOverrideRoundTrip(t *testing.T) {
	h, st := newAPI(t, token)
	const id = "a/2001:db8::1"
	const path = "/api/v1/endpoints/" + id + "/override"
	code, body := do(t, h, "POST", path, token, `{"kind":"force-up","why":"probe network is broken"}`)
	if code != 200 {
		t.Fatalf("POST = %d %s, want 200", code, body)
	}
	golden(t, "override", body)
	if got := st.View().State(id); got != health.Up {
		t.Errorf("after force-up: View().State = %v, want up", got)
	}
	if _, body := do(t, h, "GET", "/api/v1/endpoints/"+id, "", ""); !strings.Contains(body, `"who": "api 192.0.2.1"`) {
		t.Errorf("GET after POST lacks the override: %s", body)
	}
	code, body = do(t, h, "DELETE", path, token, "")
	if code != 200 || !strings.Contains(body, `"override": null`) {
		t.Fatalf("DELETE = %d %s, want 200 with no override", code, body)
	}
	if got := st.View().State(id); got != health.Down {
		t.Errorf("after clearing: View().State = %v, want down", got)
	}
	if _, body := do(t, h, "GET", "/api/v1/events?target="+id, "", ""); !strings.Contains(body, "override force-up by api 192.0.2.1: probe network is broken") ||
		!strings.Contains(body, "override cleared") {
		t.Errorf("events lack the override's transitions: %s", body)
	}
}
