package l7

import (
	"errors"
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
