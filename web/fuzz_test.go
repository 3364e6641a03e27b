package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAPIBodies: no request body, path or method makes the API panic; every answer is JSON
// with a status the API documents, and nothing but a well-formed, authorized override changes
// an endpoint.
func FuzzAPIBodies(f *testing.F) {
	for _, b := range []string{`{"kind": "drain", "why": "kernel"}`, `{"kind": "force-up"}`, `{"kind": "nope"}`, `{"kind": 1}`,
		`{"kind": "drain", "extra": true}`, `{"kind": "drain"} trailing`, `[`, ``, `null`, `{"why": "` + strings.Repeat("x", 2000) + `"}`,
		"\x00\xff", `{"kind":"drain","why":"\ud800"}`} {
		for path := range uint8(6) {
			f.Add(uint8(0), path, []byte(b), true)
			f.Add(uint8(1), path, []byte(b), false)
		}
	}
	h, _ := newConfigAPI(f, token, func(bool) error { return nil })
	paths := []string{
		"/api/v1/endpoints/a/127.0.0.1/override",
		"/api/v1/endpoints/a/2001:db8::1/override",
		"/api/v1/endpoints/nope/override",
		"/api/v1/reload?allow_zone_loss=false",
		"/api/v1/endpoints/a/127.0.0.1",
		"/api/v1/events?limit=1",
	}
	methods := []string{http.MethodPost, http.MethodDelete, http.MethodGet, http.MethodPut}
	allowed := map[int]bool{200: true, 400: true, 401: true, 403: true, 404: true, 405: true, 409: true, 413: true, 422: true}
	f.Fuzz(func(t *testing.T, method, path uint8, body []byte, authorized bool) {
		req := httptest.NewRequest(methods[int(method)%len(methods)], paths[int(path)%len(paths)], strings.NewReader(string(body)))
		if authorized {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if !allowed[w.Code] {
			t.Fatalf("%s %s: status %d, not one the API answers", req.Method, req.URL, w.Code)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %s: %d with a body that is not JSON: %q", req.Method, req.URL, w.Code, w.Body.String())
		}
		if !authorized && req.Method != http.MethodGet && w.Code == 200 {
			t.Fatalf("%s %s without a token: 200", req.Method, req.URL)
		}
	})
}
