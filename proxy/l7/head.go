package l7

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"unsafe"
)

// A request or response head as read, parsed in place: every slice points into buf, which
// is reused from one message to the next on a connection, so nothing is allocated per
// request in the steady state.
type head struct {
	buf   []byte
	first [3][]byte // request: method, target, version; response: version, code, reason
	minor int       // HTTP/1.minor
	hdrs  []field

	status        int   // response only
	contentLength int64 // -1: none
	chunked       bool
	close         bool // Connection: close, or HTTP/1.0 without keep-alive
	upgrade       []byte
	connUpgrade   bool // Connection names upgrade
	expect100     bool
	host          []byte
	xff           []byte // prior X-Forwarded-For values, joined
	fwd           []byte // prior Forwarded values, joined
	scratch       []byte // backs xff and fwd when they span several lines
}

// field is one header line. drop marks what is not forwarded: hop-by-hop headers and those
// the proxy writes itself (framing, forwarding headers).
type field struct {
	name, value []byte
	drop        bool
}

var (
	errHeadTooLarge  = errors.New("head too large")
	errBadHead       = errors.New("malformed head")
	errBadFraming    = errors.New("bad message framing")
	errUnsupportedTE = errors.New("unsupported transfer coding")
)

// read reads one head from br (at most max bytes), skipping empty lines before it.
func (h *head) read(br *bufio.Reader, max int) error {
	h.buf = h.buf[:0]
	total, cont := 0, false // cont: the last piece was part of a longer line
	for {
		line, err := br.ReadSlice('\n')
		total += len(line)
		if total > max {
			return errHeadTooLarge
		}
		switch {
		case err == bufio.ErrBufferFull:
			h.buf = append(h.buf, line...)
			cont = true
			continue
		case err == io.EOF && total == 0:
			return io.EOF
		case err == io.EOF:
			return io.ErrUnexpectedEOF
		case err != nil:
			return err
		}
		blank := !cont && isBlank(line)
		cont = false
		if blank && len(h.buf) == 0 {
			continue // RFC 9112 2.2: ignore empty lines before the start line
		}
		h.buf = append(h.buf, line...)
		if blank {
			return nil
		}
	}
}

func isBlank(line []byte) bool {
	return len(line) == 1 || len(line) == 2 && line[0] == '\r'
}

// parse splits h.buf into the start line and header fields and reads the framing.
func (h *head) parse(response bool) error {
	h.hdrs = h.hdrs[:0]
	h.status, h.contentLength, h.chunked, h.close = 0, -1, false, false
	h.upgrade, h.connUpgrade, h.expect100, h.host = nil, false, false, nil
	h.xff, h.fwd, h.scratch = nil, nil, h.scratch[:0]

	b := h.buf
	i := bytes.IndexByte(b, '\n')
	start := trimCR(b[:i])
	b = b[i+1:]
	if err := h.parseStart(start, response); err != nil {
		return err
	}
	keepAlive, connClose := false, false
	var tokens [8][]byte
	ntok := 0
	var xffs, fwds int
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		line := trimCR(b[:i])
		b = b[i+1:]
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errBadHead // obsolete line folding
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !isTokenBytes(line[:colon]) {
			return errBadHead
		}
		f := field{name: line[:colon], value: trimOWS(line[colon+1:])}
		if !isFieldValue(f.value) {
			return errBadHead
		}
		switch {
		case eqFold(f.name, "Content-Length"):
			f.drop = true
			n, ok := parseUint(f.value)
			if !ok || h.contentLength >= 0 && h.contentLength != n {
				return errBadFraming
			}
			h.contentLength = n
		case eqFold(f.name, "Transfer-Encoding"):
			f.drop = true
			if !eqFold(f.value, "chunked") || h.chunked {
				return errUnsupportedTE
			}
			h.chunked = true
		case eqFold(f.name, "Connection"):
			f.drop = true
			for v := f.value; len(v) > 0; {
				var tok []byte
				tok, v = nextToken(v)
				switch {
				case eqFold(tok, "close"):
					connClose = true
				case eqFold(tok, "keep-alive"):
					keepAlive = true
				case eqFold(tok, "upgrade"):
					h.connUpgrade = true
				case len(tok) > 0 && ntok < len(tokens):
					tokens[ntok] = tok
					ntok++
				}
			}
		case eqFold(f.name, "Upgrade"):
			f.drop = true
			h.upgrade = f.value
		case eqFold(f.name, "Host"):
			if !response {
				if h.host != nil {
					return errBadHead
				}
				h.host = f.value
			}
		case eqFold(f.name, "Expect"):
			if !response {
				f.drop = true
				h.expect100 = eqFold(f.value, "100-continue")
			}
		case eqFold(f.name, "Keep-Alive"), eqFold(f.name, "Proxy-Connection"),
			eqFold(f.name, "TE"), eqFold(f.name, "Trailer"):
			f.drop = true
		case !response && eqFold(f.name, "X-Forwarded-For"):
			f.drop = true
			h.xff = h.join(h.xff, f.value, xffs)
			xffs++
		case !response && eqFold(f.name, "Forwarded"):
			f.drop = true
			h.fwd = h.join(h.fwd, f.value, fwds)
			fwds++
		case !response && (eqFold(f.name, "X-Forwarded-Proto") || eqFold(f.name, "X-Forwarded-Host")):
			f.drop = true
		}
		h.hdrs = append(h.hdrs, f)
	}
	for _, tok := range tokens[:ntok] {
		for i := range h.hdrs {
			if eqFoldBytes(h.hdrs[i].name, tok) {
				h.hdrs[i].drop = true
			}
		}
	}
	if h.chunked {
		if h.minor == 0 {
			return errBadFraming
		}
		if h.contentLength >= 0 {
			return errBadFraming // RFC 9112 6.1: a request smuggling vector; refuse it
		}
	}
	h.close = connClose || h.minor == 0 && !keepAlive
	return nil
}

// join appends v to a comma-separated list of prior values, copying into scratch only when
// there is more than one.
func (h *head) join(prior, v []byte, n int) []byte {
	if n == 0 {
		return v
	}
	start := len(h.scratch)
	h.scratch = append(h.scratch, prior...)
	h.scratch = append(h.scratch, ", "...)
	h.scratch = append(h.scratch, v...)
	return h.scratch[start:len(h.scratch):len(h.scratch)]
}

func (h *head) parseStart(line []byte, response bool) error {
	a, rest, ok1 := bytes.Cut(line, []byte{' '})
	b, c, ok2 := bytes.Cut(rest, []byte{' '})
	if !ok1 || response && len(b) != 3 || !response && (!ok2 || len(a) == 0 || len(b) == 0) {
		return errBadHead
	}
	h.first = [3][]byte{a, b, c}
	version := c
	if response {
		version = a
		n, ok := parseUint(b)
		if !ok || n < 100 || !isFieldValue(c) {
			return errBadHead // a code under 100 would pass for 1xx here, for final elsewhere
		}
		h.status = int(n)
	} else if !isTokenBytes(a) || !isTarget(b) || bytes.IndexByte(c, ' ') >= 0 {
		return errBadHead
	}
	switch string(version) {
	case "HTTP/1.1":
		h.minor = 1
	case "HTTP/1.0":
		h.minor = 0
	default:
		return errBadVersion
	}
	return nil
}

var errBadVersion = errors.New("unsupported HTTP version")

// isFieldValue reports whether v, a field value or reason phrase, holds no control
// character but HTAB (RFC 9110 5.5). A bare CR or a NUL must not be forwarded: the next hop
// could end a line there (RFC 9112 2.2), and a field smuggled in.
func isFieldValue(v []byte) bool {
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// isTarget reports whether a request target holds no space or control character.
func isTarget(t []byte) bool {
	for _, c := range t {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// get returns the first value of the named header.
func (h *head) get(name string) ([]byte, bool) {
	for i := range h.hdrs {
		if eqFold(h.hdrs[i].name, name) {
			return h.hdrs[i].value, true
		}
	}
	return nil, false
}

// cookie returns the value of the named cookie from the Cookie headers.
func (h *head) cookie(name string) ([]byte, bool) {
	for i := range h.hdrs {
		if !eqFold(h.hdrs[i].name, "Cookie") {
			continue
		}
		for v := h.hdrs[i].value; len(v) > 0; {
			var pair []byte
			pair, v, _ = bytes.Cut(v, []byte{';'})
			pair = trimOWS(pair)
			k, val, ok := bytes.Cut(pair, []byte{'='})
			if ok && string(k) == name {
				if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
					val = val[1 : len(val)-1]
				}
				return val, true
			}
		}
	}
	return nil, false
}

// b2s views b as a string without copying. The string is valid only while b is unchanged:
// for head fields, until the next head is read on the connection.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func trimCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// nextToken returns the first element of a comma-separated list and the rest.
func nextToken(v []byte) (tok, rest []byte) {
	tok, rest, _ = bytes.Cut(v, []byte{','})
	return trimOWS(tok), rest
}

func parseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// eqFold compares ASCII case-insensitively.
func eqFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func eqFoldBytes(a, b []byte) bool { return eqFold(a, b2s(b)) }

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func isTokenBytes(b []byte) bool { return isToken(b2s(b)) }
