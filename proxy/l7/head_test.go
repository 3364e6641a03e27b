package l7

import (
	"errors"
	"testing"
)

// TestHeadControlBytes: a bare CR, a NUL or another control character in a field value, the
// request target or the reason phrase is refused, not passed on for the next hop to read as
// a line end; so is a status code under 100 (found by FuzzRequestHead and FuzzResponseHead).
func TestHeadControlBytes(t *testing.T) {
	tests := []struct {
		name     string
		head     string
		response bool
		want     error
	}{
		{"tab in a value", "GET / HTTP/1.1\r\nX: a\tb\r\n\r\n", false, nil},
		{"obs-text in a value", "GET / HTTP/1.1\r\nX: caf\xc3\xa9\r\n\r\n", false, nil},
		{"bare CR in a value", "GET / HTTP/1.1\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n", false, errBadHead},
		{"CR before CRLF", "GET / HTTP/1.1\r\nX: a\r\r\n\r\n", false, errBadHead},
		{"NUL in a value", "GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", false, errBadHead},
		{"DEL in a value", "GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n", false, errBadHead},
		{"bare CR in the target", "GET /a\rb HTTP/1.1\r\n\r\n", false, errBadHead},
		{"tab in the target", "GET /a\tb HTTP/1.1\r\n\r\n", false, errBadHead},
		{"bare CR in a response value", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", true, errBadHead},
		{"bare CR in the reason", "HTTP/1.1 200 OK\rSet-Cookie: a=1\r\n\r\n", true, errBadHead},
		{"no reason", "HTTP/1.1 204\r\n\r\n", true, nil},
		{"status 100", "HTTP/1.1 100 Continue\r\n\r\n", true, nil},
		{"status 099", "HTTP/1.1 099 Odd\r\n\r\n", true, errBadHead},
		{"status 000", "HTTP/1.1 000 Odd\r\n\r\n", true, errBadHead},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := head{buf: []byte(tc.head)}
			if err := h.parse(tc.response); !errors.Is(err, tc.want) {
				t.Errorf("parse = %v, want %v", err, tc.want)
			}
		})
	}
}
