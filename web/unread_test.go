package web

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRefusalReplyWhole: a refusal sent before the request's body was read closes the
// connection, and its reply still arrives whole, with its length: not a chunked body the
// hang-up cuts short (a client then saw "unexpected EOF" instead of the error).
func TestRefusalReplyWhole(t *testing.T) {
	_, addr := serveLimited(t, Limits{})
	client := &http.Client{Timeout: 5 * time.Second}
	tests := []struct {
		name, method, path, tok, body string
		code                          int
		close, jsonBody               bool
	}{
		{"wrong token", "POST", "/api/v1/endpoints/a/127.0.0.1/override", "wrong", `{"kind": "drain"}`, 401, true, true},
		{"no token", "POST", "/api/v1/endpoints/a/127.0.0.1/override", "", `{"kind": "drain"}`, 401, true, true},
		{"unknown endpoint", "POST", "/api/v1/endpoints/nope/override", token, `{"kind": "drain"}`, 404, true, true},
		{"method not allowed", "PUT", "/api/v1/endpoints/a/127.0.0.1/override", token, `{"kind": "drain"}`, 405, true, true},
		{"the mux's plain-text 405", "POST", "/healthz", "", "x", 405, true, false},
		{"body read: kept alive", "POST", "/api/v1/endpoints/a/127.0.0.1/override", token, `{"kind": "drain"}`, 200, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://"+addr+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.tok != "" {
				req.Header.Set("Authorization", "Bearer "+tc.tok)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("reading the %s reply: %v (got %q)", resp.Status, err, b)
			}
			if resp.StatusCode != tc.code || resp.Close != tc.close {
				t.Errorf("%s %s = %s (close %v), want %d (close %v)", tc.method, tc.path, resp.Status, resp.Close, tc.code, tc.close)
			}
			if resp.ContentLength != int64(len(b)) {
				t.Errorf("Content-Length %d, want the body's %d", resp.ContentLength, len(b))
			}
			if tc.jsonBody && !json.Valid(b) {
				t.Errorf("reply body %q is not JSON", b)
			}
		})
	}

	// A head that promises 10 MB, of which one byte comes: the 401 arrives whole all the same.
	c := dialFrom(t, "127.0.0.1", addr)
	defer c.Close()
	fmt.Fprintf(c, "POST /api/v1/endpoints/a/127.0.0.1/override HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n{")
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a tokenless head: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !json.Valid(b) {
		t.Errorf("tokenless head with a 10 MB body to come = %s %q (read: %v), want 401 with a whole JSON body", resp.Status, b, err)
	}
}
