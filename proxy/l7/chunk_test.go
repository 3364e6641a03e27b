package l7

import (
	"errors"
	"strings"
	"testing"
)

// TestChunkParser: the data of a chunked body and its end are found whatever the pieces the
// body arrives in; bad framing is an error.
func TestChunkParser(t *testing.T) {
	body := "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT"
	for _, piece := range []int{1, 2, 3, 7, len(body)} {
		var p chunkParser
		var data []byte
		off := 0
		for off < len(body) && !p.done() {
			end := min(off+piece, len(body))
			in := []byte(body[off:end])
			for len(in) > 0 && !p.done() {
				n, isData, err := p.step(in)
				if err != nil {
					t.Fatalf("piece %d: %v", piece, err)
				}
				if isData {
					data = append(data, in[:n]...)
				}
				in = in[n:]
				off += n
			}
		}
		if !p.done() || string(data) != "hello world" || body[off:] != "NEXT" {
			t.Errorf("piece %d: done %v data %q rest %q", piece, p.done(), data, body[off:])
		}
	}
	for _, bad := range []string{"x\r\n", "5\r\nhelloXX", ";\r\n", "10000000000000000\r\n"} {
		var p chunkParser
		in := []byte(bad)
		var err error
		for len(in) > 0 && err == nil {
			var n int
			n, _, err = p.step(in)
			in = in[n:]
		}
		if !errors.Is(err, errBadChunk) {
			t.Errorf("%q: err %v, want errBadChunk", bad, err)
		}
	}
}

// TestChunkParserStrict: the loop engine passes chunked framing on as it came, so it takes
// only CRLF line ends and nothing but whitespace or an extension after a size; a backend
// that reads bare LF or a stray CR otherwise would see other chunks than the proxy did
// (found by FuzzChunked).
func TestChunkParserStrict(t *testing.T) {
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"crlf", "5\r\nhello\r\n0\r\n\r\n", true},
		{"whitespace after the size", "5 \t\r\nhello\r\n0\r\n\r\n", true},
		{"extension after whitespace", "5 ;a=b\r\nhello\r\n0;z\r\nT: 1\r\n\r\n", true},
		{"bare LF after the size", "5\nhello\r\n0\r\n\r\n", false},
		{"bare LF ends an extension", "5;a\nhello\r\n0\r\n\r\n", false},
		{"bare CR in an extension", "5;a\rb\r\nhello\r\n0\r\n\r\n", false},
		{"junk after the size", "5Z\r\nhello\r\n0\r\n\r\n", false},
		{"bare LF after the data", "5\r\nhello\n0\r\n\r\n", false},
		{"CR CR LF after the data", "5\r\nhello\r\r\n0\r\n\r\n", false},
		{"bare LF ends a trailer", "0\r\nT: 1\n\r\n", false},
		{"bare LF ends the trailers", "0\r\n\n", false},
		{"CR CR LF ends the trailers", "0\r\n\r\r\n", false},
		{"trailer section too long", "0\r\n" + strings.Repeat("T: 12345678\r\n", maxChunkLine/11+1) + "\r\n", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p chunkParser
			in := []byte(tc.body)
			var err error
			for len(in) > 0 && err == nil && !p.done() {
				var n int
				n, _, err = p.step(in)
				in = in[n:]
			}
			if ok := err == nil && p.done() && len(in) == 0; ok != tc.ok {
				t.Errorf("done %v, err %v, %d bytes left; want ok %v", p.done(), err, len(in), tc.ok)
			}
		})
	}
}
