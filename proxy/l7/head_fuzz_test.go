package l7

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// Fuzz targets over the request and response head parsers (issue 19): whatever the bytes,
// read and parse never panic, frame the head as a line-by-line reading of the bytes does,
// refuse a head over the limit, and what they accept is well formed, agrees with the bytes
// and, where net/http accepts the same head, with net/http.

var headSeeds = []string{
	"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n",
	"\r\n\nPOST /upload?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	"POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n",
	"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	"GET http://example.org/a?b HTTP/1.1\r\nConnection: keep-alive, X-Hop, upgrade\r\nX-Hop: 1\r\nUpgrade: websocket\r\n\r\n",
	"GET / HTTP/1.0\r\nX-Forwarded-For: 192.0.2.1\r\nX-Forwarded-For: 192.0.2.2\r\nForwarded: for=192.0.2.3\r\nCookie: a=1; sid=\"x\"\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\nKeep-Alive: timeout=5\r\nProxy-Connection: x\r\nTE: trailers\r\n\r\n",
	"GET / HTTP/1.1\nHost: lf-only\n\n",
	"GET / HTTP/1.1\r\n folded: no\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n",
	"GET /a\rb HTTP/1.1\r\n\r\n",
	"GET / HTTP/2.0\r\n\r\n",
	"GET  / HTTP/1.1\r\n\r\n",
	"GET /" + strings.Repeat("a", 300) + " HTTP/1.1\r\nX-Long: " + strings.Repeat("b", 300) + "\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
	"", "\r\n", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r",
}

func FuzzRequestHead(f *testing.F) {
	for _, s := range headSeeds {
		f.Add([]byte(s), uint16(4096), uint8(0))
	}
	short := "GET / HTTP/1.1\r\nHost: example.org\r\n\r\n"
	f.Add([]byte(short), uint16(len(short)), uint8(0))   // exactly the limit
	f.Add([]byte(short), uint16(len(short)-1), uint8(0)) // one byte over
	f.Add([]byte(short), uint16(0), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, limit uint16, bufSize uint8) {
		fuzzHead(t, data, int(limit), 16+int(bufSize), false)
	})
}

func FuzzResponseHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: a=1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 204\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
		"HTTP/1.1 042 Odd\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 200 OK\rX: y\r\n\r\n",
		"HTTP/1.0 304 Not Modified\r\nConnection: keep-alive\r\nX-Forwarded-For: kept\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
		"HTTP/2 200\r\n\r\n",
		"", "HTTP/1.1 200 OK\r\n",
	} {
		f.Add([]byte(s), uint16(4096), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, limit uint16, bufSize uint8) {
		fuzzHead(t, data, int(limit), 16+int(bufSize), true)
	})
}

func fuzzHead(t *testing.T, data []byte, max, bufSize int, response bool) {
	var h head
	err := h.read(bufio.NewReaderSize(bytes.NewReader(data), bufSize), max)
	start, end := frameHead(data)
	switch {
	case end >= 0 && end <= max:
		if err != nil {
			t.Fatalf("read: %v, want the head data[%d:%d] (limit %d)", err, start, end, max)
		}
		if !bytes.Equal(h.buf, data[start:end]) {
			t.Fatalf("read %q, want data[%d:%d] = %q", h.buf, start, end, data[start:end])
		}
	case end > max || len(data) > max:
		if !errors.Is(err, errHeadTooLarge) {
			t.Fatalf("read of %d bytes (head end %d) over the limit %d: err %v, want errHeadTooLarge", len(data), end, max, err)
		}
	case len(data) == 0:
		if err != io.EOF {
			t.Fatalf("read of nothing: err %v, want io.EOF", err)
		}
	default:
		if err != io.ErrUnexpectedEOF {
			t.Fatalf("read of a head without its end: err %v, want io.ErrUnexpectedEOF", err)
		}
	}
	if err != nil {
		return
	}
	if ls, le, ok := loopFrame(data); ok && le >= 0 && le-ls <= max && !bytes.Equal(data[ls:le], h.buf) {
		t.Fatalf("the loop engine frames the head as %q, the go engine as %q", data[ls:le], h.buf)
	}
	raw := bytes.Clone(h.buf)
	err = h.parse(response)
	if !bytes.Equal(h.buf, raw) {
		t.Fatalf("parse changed the head: %q, was %q", h.buf, raw)
	}
	if err != nil {
		for _, known := range []error{errBadHead, errBadFraming, errUnsupportedTE, errBadVersion} {
			if errors.Is(err, known) {
				return
			}
		}
		t.Fatalf("parse: unexpected error %v", err)
	}
	checkHead(t, &h, response)

	// Re-serialised from what was parsed, the head parses to the same thing.
	again := head{buf: serializeHead(&h)}
	if err := again.parse(response); err != nil {
		t.Fatalf("re-serialised head %q: %v", again.buf, err)
	}
	if d := diffHeads(&h, &again); d != "" {
		t.Fatalf("re-serialised head %q parses differently: %s", again.buf, d)
	}
	compareNetHTTP(t, &h, again.buf, response)
}

// frameHead finds, line by line, where a head starts (after the empty lines RFC 9112 2.2
// allows before it) and where it ends (after its first empty line); end is -1 without one.
func frameHead(data []byte) (start, end int) {
	start = -1
	for off := 0; off < len(data); {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			break
		}
		line, next := string(data[off:off+i+1]), off+i+1
		blank := line == "\n" || line == "\r\n"
		switch {
		case start < 0 && !blank:
			start = next - len(line)
		case start >= 0 && blank:
			return start, next
		}
		off = next
	}
	return start, -1
}

// checkHead checks an accepted head against the grammar and against its own fields.
func checkHead(t *testing.T, h *head, response bool) {
	t.Helper()
	for i, s := range h.first {
		if !within(h.buf, s) {
			t.Fatalf("start line part %d %q is not inside the head", i, s)
		}
	}
	version := h.first[2]
	if response {
		version = h.first[0]
		code := h.first[1]
		if h.status < 100 || strconv.Itoa(h.status) != string(code) {
			t.Fatalf("status %d from %q: want a three-digit code of at least 100", h.status, code)
		}
		if !validValue(h.first[2]) {
			t.Fatalf("reason phrase %q holds a control character", h.first[2])
		}
	} else {
		if !isTokenBytes(h.first[0]) {
			t.Fatalf("method %q is not a token", h.first[0])
		}
		if len(h.first[1]) == 0 || !validTarget(h.first[1]) {
			t.Fatalf("target %q is empty or holds a space or control character", h.first[1])
		}
	}
	if want := "HTTP/1." + string(rune('0'+h.minor)); string(version) != want || h.minor > 1 {
		t.Fatalf("version %q parsed as minor %d", version, h.minor)
	}
	var cls, tes, hosts int
	for _, f := range h.hdrs {
		if !within(h.buf, f.name) || !within(h.buf, f.value) {
			t.Fatalf("field %q: %q is not inside the head", f.name, f.value)
		}
		if !isTokenBytes(f.name) {
			t.Fatalf("field name %q is not a token", f.name)
		}
		if !validValue(f.value) || len(trimOWS(f.value)) != len(f.value) {
			t.Fatalf("field %s value %q holds a control character or untrimmed whitespace", f.name, f.value)
		}
		switch {
		case eqFold(f.name, "Content-Length"):
			cls++
			if n, ok := parseUint(f.value); !ok || n != h.contentLength {
				t.Fatalf("Content-Length %q accepted as %d", f.value, h.contentLength)
			}
		case eqFold(f.name, "Transfer-Encoding"):
			tes++
		case eqFold(f.name, "Host") && !response:
			if hosts++; !bytes.Equal(h.host, f.value) {
				t.Fatalf("host = %q, want the Host field's %q", h.host, f.value)
			}
		}
	}
	switch {
	case cls == 0 && h.contentLength != -1, h.contentLength < -1:
		t.Fatalf("content length %d from %d Content-Length fields", h.contentLength, cls)
	case tes > 1 || h.chunked != (tes == 1):
		t.Fatalf("chunked %v from %d Transfer-Encoding fields", h.chunked, tes)
	case h.chunked && (cls > 0 || h.minor == 0):
		t.Fatalf("chunked accepted with %d Content-Length fields in HTTP/1.%d", cls, h.minor)
	case hosts > 1 || hosts == 0 && h.host != nil:
		t.Fatalf("host %q from %d Host fields", h.host, hosts)
	}
}

// validValue reports whether b is a field value (or reason phrase) without control
// characters: RFC 9110 5.5 field-vchar, SP and HTAB only.
func validValue(b []byte) bool {
	for _, c := range b {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

func validTarget(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// within reports whether inner lies inside outer's bytes: the parser never points past
// the head it was given.
func within(outer, inner []byte) bool {
	if len(inner) == 0 {
		return true
	}
	o := uintptr(unsafe.Pointer(unsafe.SliceData(outer)))
	i := uintptr(unsafe.Pointer(unsafe.SliceData(inner)))
	return i >= o && i+uintptr(len(inner)) <= o+uintptr(len(outer))
}

func serializeHead(h *head) []byte {
	b := bytes.Join(h.first[:], []byte{' '})
	b = append(b, "\r\n"...)
	for _, f := range h.hdrs {
		b = append(b, f.name...)
		b = append(b, ": "...)
		b = append(b, f.value...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

func diffHeads(a, b *head) string {
	switch {
	case !slices.EqualFunc(a.first[:], b.first[:], bytes.Equal):
		return "start line"
	case a.minor != b.minor || a.status != b.status:
		return "version or status"
	case !slices.EqualFunc(a.hdrs, b.hdrs, func(x, y field) bool {
		return bytes.Equal(x.name, y.name) && bytes.Equal(x.value, y.value) && x.drop == y.drop
	}):
		return "fields"
	case a.contentLength != b.contentLength || a.chunked != b.chunked || a.close != b.close:
		return "framing"
	case !bytes.Equal(a.upgrade, b.upgrade) || a.connUpgrade != b.connUpgrade || a.expect100 != b.expect100:
		return "upgrade or expect"
	case !bytes.Equal(a.host, b.host) || !bytes.Equal(a.xff, b.xff) || !bytes.Equal(a.fwd, b.fwd):
		return "host or forwarding"
	}
	return ""
}

// compareNetHTTP checks a head both parsers accept: net/http must see the same start line,
// the same fields and the same message framing. Heads only net/http refuses (a target it
// cannot parse as a URL, say) are not compared.
func compareNetHTTP(t *testing.T, h *head, b []byte, response bool) {
	t.Helper()
	var hdr http.Header
	var contentLength int64
	var te []string
	if response {
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
		if err != nil {
			return
		}
		if resp.StatusCode != h.status || resp.ProtoMinor != h.minor {
			t.Fatalf("net/http reads status %d HTTP/1.%d, we %d HTTP/1.%d", resp.StatusCode, resp.ProtoMinor, h.status, h.minor)
		}
		if h.status < 200 || h.status == 204 || h.status == 304 {
			return // no body whatever the framing says
		}
		hdr, contentLength, te = resp.Header, resp.ContentLength, resp.TransferEncoding
	} else {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		if req.Method != string(h.first[0]) || req.RequestURI != string(h.first[1]) || req.ProtoMinor != h.minor {
			t.Fatalf("net/http reads %s %s HTTP/1.%d", req.Method, req.RequestURI, req.ProtoMinor)
		}
		if h.host != nil && req.Host != string(h.host) {
			t.Fatalf("net/http reads host %q, we %q", req.Host, h.host)
		}
		hdr, contentLength, te = req.Header, req.ContentLength, req.TransferEncoding
	}
	switch {
	case h.chunked:
		if !slices.Equal(te, []string{"chunked"}) {
			t.Fatalf("we read a chunked body, net/http transfer encoding %q", te)
		}
	case h.contentLength >= 0:
		if contentLength != h.contentLength || te != nil {
			t.Fatalf("we read %d body bytes, net/http %d (transfer encoding %q)", h.contentLength, contentLength, te)
		}
	case !response && contentLength != 0:
		t.Fatalf("we read no request body, net/http %d bytes", contentLength)
	case response && (contentLength != -1 || te != nil):
		t.Fatalf("we read the response body to EOF, net/http %d bytes (transfer encoding %q)", contentLength, te)
	}
	for _, f := range h.hdrs {
		name := textproto.CanonicalMIMEHeaderKey(string(f.name))
		switch name {
		case "Host", "Transfer-Encoding", "Content-Length":
			continue // moved out of the header map by net/http
		}
		if !slices.Contains(hdr[name], string(f.value)) {
			t.Fatalf("field %s: %q, net/http has %q", f.name, f.value, hdr[name])
		}
	}
}
