//go:build linux

package l7

import "testing"

// TestSkipBlank: the loop engine skips the same empty lines before a start line as head.read,
// LF or CRLF; a bare CR stays, to fail the start line (found by FuzzRequestHead).
func TestSkipBlank(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"GET", 0},
		{"\r\nGET", 2},
		{"\n\r\n\nGET", 4},
		{"\rGET", 0},
		{"\r\n\r0\n\n", 2},
		{"\r\n\r", 2}, // the LF may follow in the next read
	}
	for _, tc := range tests {
		if got := skipBlank([]byte(tc.in), 0, len(tc.in)); got != tc.want {
			t.Errorf("skipBlank(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
