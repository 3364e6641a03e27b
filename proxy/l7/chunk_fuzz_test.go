package l7

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httputil"
	"strings"
	"testing"
)

// FuzzChunked feeds arbitrary bytes to the loop engine's incremental chunked parser, whole
// and split at points drawn from split, and checks that
//   - every call makes progress, and the pieces change nothing: the same bytes are data,
//     the same end or the same error;
//   - it accepts exactly the chunked bodies of RFC 9112 7.1 with CRLF line ends (refChunked):
//     the loop engine passes the framing on as it came, so whatever it lets through, the
//     backend must read the same way;
//   - the go engine's decoder (copyChunked) accepts what it accepts, with the same payload and
//     end, and re-chunks it into a body the parser reads back the same (copyChunked may
//     accept more, bare LF line ends say: it re-chunks what it passes on);
//   - net/http's chunked reader, where it accepts the body too, decodes the same payload.
func FuzzChunked(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT",
		"0\r\n\r\n",
		"1\r\na\r\n0\r\n\r\n",
		"A\r\n0123456789\r\n0;last\r\n\r\n",
		"5 ;a=b\r\n12345\r\n0\r\n\r\n",
		"5\t\r\n12345\r\n0\r\n\r\n",
		"0005\r\nhello\r\n000\r\n\r\n",
		"5;\"quoted\"=\"a;b\"\r\nhello\r\n0\r\nA: 1\r\nB: 2\r\n\r\n",
		"fffffffffffffff\r\nx",
		"10000000000000000\r\n",
		"5\nhello\n0\n\n",
		"5\r\nhello\n0\r\n\r\n",
		"5\r\nhello\r\r\n0\r\n\r\n",
		"5;\nhello\r\n0\r\n\r\n",
		"5;a\rb\r\nhello\r\n0\r\n\r\n",
		"5Z\r\nhello\r\n0\r\n\r\n",
		"5\r\nhelloXX",
		"x\r\n", ";\r\n", "\r\n", "",
		"0\r\nX: y\n\r\n",
		"0\r\n\r\r\n",
		"3\r\nabc\r\n0\r\n" + strings.Repeat("T: v\r\n", 2000) + "\r\n",
		"3;" + strings.Repeat("e", maxChunkLine) + "\r\nabc\r\n0\r\n\r\n",
	} {
		f.Add([]byte(s), uint64(0))
		f.Add([]byte(s), uint64(len(s)))
	}
	f.Fuzz(func(t *testing.T, body []byte, split uint64) {
		whole := runChunkParser(t, body, []int{len(body)})
		pieces := splitPoints(len(body), split)
		if got := runChunkParser(t, body, pieces); !got.same(whole) {
			t.Fatalf("in pieces %v: %s; whole: %s", pieces, got, whole)
		}

		ref := refChunked(body)
		switch {
		case ref.done && (!whole.done || whole.end != ref.end || !bytes.Equal(whole.data, ref.data)):
			t.Fatalf("parser: %s; want done at %d with %q", whole, ref.end, ref.data)
		case ref.err != nil && whole.err == nil:
			t.Fatalf("parser: %s; want an error: %v", whole, ref.err)
		case !ref.done && whole.done:
			t.Fatalf("parser: %s; want not done (%v)", whole, ref.err)
		}

		goEng := runCopyChunked(body, false)
		if whole.done {
			if goEng.err != nil || goEng.end != whole.end || !bytes.Equal(goEng.data, whole.data) {
				t.Fatalf("copyChunked: %s; the loop engine's parser: %s", goEng, whole)
			}
			again := runCopyChunked(body, true)
			back := runChunkParser(t, again.data, []int{len(again.data)})
			if !back.done || back.end != len(again.data) || !bytes.Equal(back.data, whole.data) {
				t.Fatalf("re-chunked by copyChunked as %q, parsed back: %s", again.data, back)
			}

			got, err := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(body)))
			if err == nil && !bytes.Equal(got, whole.data) {
				t.Fatalf("net/http decodes %q, the parser %q", got, whole.data)
			}
		}
	})
}

// chunkRun is what a decoder made of a chunked body.
type chunkRun struct {
	data []byte // the payload
	kind []byte // the parser's: per byte read, 'd' for data or 'f' for framing
	end  int    // bytes read: up to the end of the body, or of the error
	done bool
	err  error
}

func (r chunkRun) same(o chunkRun) bool {
	return bytes.Equal(r.data, o.data) && bytes.Equal(r.kind, o.kind) && r.end == o.end &&
		r.done == o.done && errors.Is(r.err, o.err) && errors.Is(o.err, r.err)
}

func (r chunkRun) String() string {
	s := "not done"
	switch {
	case r.err != nil:
		s = "error " + r.err.Error()
	case r.done:
		s = "done"
	}
	return fmt.Sprintf("%s at %d, data %q", s, r.end, r.data)
}

// splitPoints cuts n bytes into pieces of 1 to 17 bytes (or all that is left), drawn from seed.
func splitPoints(n int, seed uint64) []int {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	var pieces []int
	for off := 0; off < n; {
		k := min(1+r.IntN(17), n-off)
		if r.IntN(8) == 0 {
			k = n - off
		}
		pieces = append(pieces, k)
		off += k
	}
	return pieces
}

// runChunkParser feeds body to a chunkParser in pieces of the given sizes, each piece
// stepped through as the loop engine does (takeBody), until the body is done or bad.
func runChunkParser(t *testing.T, body []byte, pieces []int) chunkRun {
	t.Helper()
	var p chunkParser
	var r chunkRun
	off := 0
	for _, k := range pieces {
		avail := body[off : off+k]
		for len(avail) > 0 && !p.done() {
			n, data, err := p.step(avail)
			if n < 0 || n > len(avail) || n == 0 && err == nil {
				t.Fatalf("step consumed %d of %d bytes at %d (state %d)", n, len(avail), off, p.state)
			}
			kind := byte('f')
			if data {
				kind = 'd'
				r.data = append(r.data, avail[:n]...)
			}
			r.kind = append(r.kind, bytes.Repeat([]byte{kind}, n)...)
			avail, off = avail[n:], off+n
			if err != nil {
				r.end, r.err = off, err
				return r
			}
		}
		if p.done() {
			break
		}
	}
	r.end, r.done = off, p.done()
	return r
}

// runCopyChunked decodes body with the go engine's copyChunked, re-chunked when chunk is set.
func runCopyChunked(body []byte, chunk bool) chunkRun {
	var out bytes.Buffer
	in := bytes.NewReader(body)
	br := bufio.NewReaderSize(in, clientReadBuf)
	bw := bufio.NewWriter(&out)
	_, e := copyChunked(bw, br, chunk, nil)
	bw.Flush()
	r := chunkRun{data: out.Bytes(), end: len(body) - in.Len() - br.Buffered(), err: e.read}
	if e.write != nil {
		r.err = e.write
	}
	r.done = r.err == nil
	return r
}

// refResult is refChunked's verdict: done, bad (err), or neither (more bytes are needed).
type refResult struct {
	data []byte
	end  int
	done bool
	err  error
}

// refChunked decodes a chunked body by the grammar of RFC 9112 7.1, a line at a time:
//
//	chunked-body = *chunk last-chunk trailer-section CRLF
//	chunk        = 1*15HEXDIG [ OWS ] [ ";" ext ] CRLF chunk-data CRLF
//
// where every line ends in CRLF and holds no other CR or LF, what follows the size digits
// is at most maxChunkLine bytes, and so is the trailer section (without its line ends).
func refChunked(b []byte) refResult {
	var r refResult
	bad := func(why string) refResult { r.err = errors.New(why); return r }
	off := 0
	// line returns the next line without its CRLF; ok false when it is not all there.
	line := func() (l []byte, ok bool, err error) {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			return nil, false, nil
		}
		l = b[off : off+i]
		if len(l) == 0 || l[len(l)-1] != '\r' {
			return nil, false, errors.New("bare LF")
		}
		l = l[:len(l)-1]
		if bytes.IndexByte(l, '\r') >= 0 {
			return nil, false, errors.New("bare CR")
		}
		off += i + 1
		return l, true, nil
	}
	for {
		l, ok, err := line()
		if err != nil {
			return bad(err.Error())
		}
		if !ok {
			return r
		}
		digits := 0
		var size int64
		for digits < len(l) && unhex(l[digits]) >= 0 {
			size = size<<4 | int64(unhex(l[digits]))
			digits++
		}
		rest := l[digits:]
		switch {
		case digits == 0 || digits > 15:
			return bad("chunk size")
		case len(rest) > maxChunkLine:
			return bad("long extension")
		}
		if rest = bytes.TrimLeft(rest, " \t"); len(rest) > 0 && rest[0] != ';' {
			return bad("junk after the chunk size")
		}
		if size == 0 {
			break
		}
		if int64(len(b)-off) < size+2 {
			if int64(len(b)-off) >= size && !bytes.HasPrefix([]byte("\r\n"), b[off+int(size):]) {
				return bad("chunk data end")
			}
			return r
		}
		r.data = append(r.data, b[off:off+int(size)]...)
		off += int(size)
		if string(b[off:off+2]) != "\r\n" {
			return bad("chunk data end")
		}
		off += 2
	}
	total := 0
	for {
		l, ok, err := line()
		if err != nil {
			return bad(err.Error())
		}
		if !ok {
			return r
		}
		if len(l) == 0 {
			r.done, r.end = true, off
			return r
		}
		if total += len(l); total > maxChunkLine {
			return bad("long trailer section")
		}
	}
}
