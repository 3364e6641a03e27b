package l7

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Client connection states, for shutdown: only an idle connection may be closed at once.
const (
	stateIdle int32 = iota
	stateActive
	stateClosed
)

const (
	clientReadBuf  = 16 << 10
	clientWriteBuf = 16 << 10
)

// clientConn is one client connection served by the HTTP/1.1 engine. It is pooled: its
// buffers and head structs are reused by later connections.
type clientConn struct {
	s     *Server
	nc    net.Conn
	tcp   *net.TCPConn
	br    *bufio.Reader
	bw    *bufio.Writer
	ip    string
	proto string // "http" or "https"
	state atomic.Int32

	req   head
	resp  head
	path  []byte // request path without the query
	auth  []byte // authority: the absolute-form target's, else the Host header
	out   []byte // scratch for heads written
	tried tried
	yield bool // yield before waiting for a backend's answer (see yieldForAnswer)
}

// serveConn runs the HTTP/1.1 engine, or hands a TLS connection that chose h2 to net/http.
func (s *Server) serveConn(nc net.Conn, tcp *net.TCPConn) {
	defer s.connWG.Done()
	defer s.nconns.Add(-1)
	proto := "http"
	if s.tls != nil {
		tc := tls.Server(&observedConn{TCPConn: tcp, s: s}, s.tls)
		tc.SetDeadline(time.Now().Add(s.o.HeaderTimeout))
		if err := tc.Handshake(); err != nil {
			s.o.Logger.Debug("tls handshake failed", "client", nc.RemoteAddr().String(), "err", err)
			tc.Close()
			return
		}
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			tc.SetDeadline(time.Time{})
			if !s.h2ln.hand(tc) {
				tc.Close()
			}
			return
		}
		nc, tcp, proto = tc, nil, "https" // the observedConn reports at close
	}
	c := s.bufs.conns.Get().(*clientConn)
	c.s, c.nc, c.tcp, c.proto = s, nc, tcp, proto
	c.ip = clientIP(nc.RemoteAddr())
	c.yield = runtime.GOMAXPROCS(0)-s.heldProcs() == 1
	c.state.Store(stateIdle)
	c.br = s.bufs.reader(nc)
	c.bw = s.bufs.writer(nc)
	s.connMu.Lock()
	s.conns[c] = struct{}{}
	s.connMu.Unlock()

	c.serve()

	s.connMu.Lock()
	delete(s.conns, c)
	s.connMu.Unlock()
	if tcp != nil {
		s.closeClient(nc, tcp)
	} else {
		nc.Close()
	}
	s.bufs.putReader(c.br)
	s.bufs.putWriter(c.bw)
	*c = clientConn{req: c.req, resp: c.resp, out: c.out[:0]}
	s.bufs.conns.Put(c)
}

// serve reads and answers requests until the connection ends or must end.
func (c *clientConn) serve() {
	s := c.s
	c.nc.SetReadDeadline(time.Now().Add(s.o.HeaderTimeout))
	for first := true; ; first = false {
		if !first {
			c.nc.SetReadDeadline(time.Now().Add(s.o.IdleTimeout))
		}
		if _, err := c.br.Peek(1); err != nil {
			return
		}
		if !c.state.CompareAndSwap(stateIdle, stateActive) {
			return // shutting down
		}
		if !first && !headBuffered(c.br) {
			c.nc.SetReadDeadline(time.Now().Add(s.o.HeaderTimeout))
		}
		start := time.Now()
		if err := c.req.read(c.br, s.o.MaxHeaderBytes); err != nil {
			c.headError(err, start)
			return
		}
		if err := c.req.parse(false); err != nil {
			c.headError(err, start)
			return
		}
		c.splitTarget()
		if !c.handle(start) {
			return
		}
		// Idle, even while shutting down: the answer promised keep-alive, so the client may be
		// sending its next request now; it is answered with Connection: close, or the idle
		// connection is closed after idleGrace (shutdown).
		c.state.Store(stateIdle)
	}
}

// headBuffered reports whether a whole head already sits in br, so that no header timeout
// needs setting: the common case for small requests.
func headBuffered(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	for i := 0; i+3 < len(b); i++ {
		if b[i] == '\r' && b[i+1] == '\n' && b[i+2] == '\r' && b[i+3] == '\n' {
			return true
		}
	}
	return false
}

// headError answers a request head that could not be read or parsed, if it makes sense.
func (c *clientConn) headError(err error, start time.Time) {
	var code int
	switch {
	case errors.Is(err, errHeadTooLarge):
		code = 431
		c.s.m.rejected(rejHeaderLarge)
	case errors.Is(err, errUnsupportedTE):
		code = 501
		c.s.m.rejected(rejBadRequest)
	case errors.Is(err, errBadVersion):
		code = 505
		c.s.m.rejected(rejBadRequest)
	case errors.Is(err, errBadHead), errors.Is(err, errBadFraming):
		code = 400
		c.s.m.rejected(rejBadRequest)
	case errors.Is(err, os.ErrDeadlineExceeded):
		code = 408
	default:
		return // the client went away
	}
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	c.writeError(code, true, 0)
	c.s.m.request("", code, start, 0, 0)
}

// splitTarget finds the path and authority of the request target.
func (c *clientConn) splitTarget() {
	t := c.req.first[1]
	c.auth = c.req.host
	if len(t) > 0 && t[0] != '/' {
		// absolute-form (RFC 9112 3.2.2): the authority replaces Host for routing
		if i := indexScheme(t); i > 0 {
			rest := t[i:]
			end := len(rest)
			for j, b := range rest {
				if b == '/' || b == '?' {
					end = j
					break
				}
			}
			c.auth, t = rest[:end], rest[end:]
		}
	}
	for i, b := range t {
		if b == '?' {
			t = t[:i]
			break
		}
	}
	c.path = t
}

func indexScheme(t []byte) int {
	for _, p := range []string{"http://", "https://"} {
		if len(t) >= len(p) && eqFold(t[:len(p)], p) {
			return len(p)
		}
	}
	return -1
}

// request view for routing (see route.go); the strings alias the head buffer.

func (c *clientConn) host() string     { return b2s(c.auth) }
func (c *clientConn) reqPath() string  { return b2s(c.path) }
func (c *clientConn) clientIP() string { return c.ip }
func (c *clientConn) header(name string) (string, bool) {
	v, ok := c.req.get(name)
	return b2s(v), ok
}
func (c *clientConn) cookie(name string) (string, bool) {
	v, ok := c.req.cookie(name)
	return b2s(v), ok
}

// writeError writes a short plain-text response. retryAfter > 0 adds Retry-After.
func (c *clientConn) writeError(code int, closeConn bool, retryAfter int) {
	c.out = appendError(c.out[:0], code, closeConn, retryAfter)
	c.bw.Write(c.out)
	c.bw.Flush()
}

// appendError appends a short plain-text response to b.
func appendError(b []byte, code int, closeConn bool, retryAfter int) []byte {
	text := statusText(code)
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	b = append(b, text...)
	b = append(b, "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(text)+1), 10)
	if retryAfter > 0 {
		b = append(b, "\r\nRetry-After: "...)
		b = strconv.AppendInt(b, int64(retryAfter), 10)
	}
	if closeConn {
		b = append(b, "\r\nConnection: close"...)
	}
	b = append(b, "\r\n\r\n"...)
	b = append(b, text...)
	return append(b, '\n')
}

func clientIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip4 := ta.IP.To4(); ip4 != nil {
			return ip4.String()
		}
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// observedConn reports a TLS client's TCP connection to the Feedback observer at close.
type observedConn struct {
	*net.TCPConn
	s    *Server
	once sync.Once
}

func (o *observedConn) Close() error {
	var err error
	o.once.Do(func() {
		if o.s.o.Feedback != nil {
			o.s.o.Feedback.ObserveConn(o.TCPConn)
		}
		err = o.TCPConn.Close()
		o.s.m.connClosed()
	})
	return err
}

// bufPools recycles what client connections use, across connections.
type bufPools struct {
	conns, readers, writers sync.Pool
}

func newBufPools() *bufPools {
	return &bufPools{
		conns:   sync.Pool{New: func() any { return &clientConn{out: make([]byte, 0, 1024)} }},
		readers: sync.Pool{New: func() any { return bufio.NewReaderSize(nil, clientReadBuf) }},
		writers: sync.Pool{New: func() any { return bufio.NewWriterSize(nil, clientWriteBuf) }},
	}
}

func (p *bufPools) reader(nc net.Conn) *bufio.Reader {
	br := p.readers.Get().(*bufio.Reader)
	br.Reset(nc)
	return br
}

func (p *bufPools) putReader(br *bufio.Reader) { br.Reset(nil); p.readers.Put(br) }

func (p *bufPools) writer(nc net.Conn) *bufio.Writer {
	bw := p.writers.Get().(*bufio.Writer)
	bw.Reset(nc)
	return bw
}

func (p *bufPools) putWriter(bw *bufio.Writer) { bw.Reset(nil); p.writers.Put(bw) }

// heldProcs is Options.HeldProcs, or 0.
func (s *Server) heldProcs() int {
	if s.o.HeldProcs == nil {
		return 0
	}
	return s.o.HeldProcs()
}
