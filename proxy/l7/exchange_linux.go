//go:build linux

package l7

import (
	"errors"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

var errConnectTimeout = errors.New("connect timed out")

func netFileConn(f *os.File) (net.Conn, error) { return net.FileConn(f) }

func asTCP(nc net.Conn) *net.TCPConn {
	tc, _ := nc.(*net.TCPConn)
	return tc
}

// headEnd returns the index just past the blank line ending the head in b, or -1.
func headEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		j := i + 1
		if j < len(b) && b[j] == '\r' {
			j++
		}
		if j < len(b) && b[j] == '\n' {
			return j + 1
		}
	}
	return -1
}

// skipBlank skips the empty lines allowed before a start line (RFC 9112 2.2): LF or CRLF,
// as head.read does; a bare CR is left to fail the start line.
func skipBlank(b []byte, off, end int) int {
	for {
		switch {
		case off < end && b[off] == '\n':
			off++
		case off+1 < end && b[off] == '\r' && b[off+1] == '\n':
			off += 2
		default:
			return off
		}
	}
}

// stepIdle flushes the last response, then reads and starts the next request.
func (c *hconn) stepIdle() bool {
	switch c.flushClient() {
	case ioAgain:
		return false
	case ioErr:
		c.abort()
		return false
	}
	s := c.l.s
	max := s.o.MaxHeaderBytes
	c.coff = skipBlank(c.cin, c.coff, c.clen)
	if c.coff < c.clen {
		if e := headEnd(c.cin[c.coff:c.clen]); e >= 0 {
			if e > max {
				c.headTooLarge()
				return true
			}
			c.startRequest(c.coff, c.coff+e)
			return true
		}
		if c.clen-c.coff > max {
			c.headTooLarge()
			return true
		}
	}
	empty := c.coff == c.clen
	switch c.readClient(max + 4) {
	case ioAgain:
		return false
	case ioErr, ioEOF:
		c.abort()
		return false
	}
	if empty && c.coff < c.clen {
		c.l.setDeadline(c, s.o.HeaderTimeout)
	}
	return true
}

func (c *hconn) headTooLarge() {
	c.start = c.l.now
	c.l.s.m.rejected(rejHeaderLarge)
	c.respond(431, false, 0, "")
}

// respond queues a short response; keep says whether c reads another request after it.
func (c *hconn) respond(code int, keep bool, retryAfter int, backend string) {
	c.respOut = appendError(c.respOut[:0], code, !keep, retryAfter)
	c.cw = c.respOut
	c.l.s.m.request(backend, code, c.start, 0, 0)
	if keep {
		c.state = stIdle
		c.l.setDeadline(c, c.l.s.o.IdleTimeout)
		return
	}
	c.state = stClosing
	c.l.setDeadline(c, time.Second)
}

// startRequest parses the head in cin[hs:he] and starts answering it.
func (c *hconn) startRequest(hs, he int) {
	s, h := c.l.s, &c.cc.req
	c.start = c.l.now
	h.buf = c.cin[hs:he]
	c.coff = he
	if err := h.parse(false); err != nil {
		code := 400 // the go engine's headError, for a complete head
		switch {
		case errors.Is(err, errUnsupportedTE):
			code = 501
		case errors.Is(err, errBadVersion):
			code = 505
		}
		s.m.rejected(rejBadRequest)
		c.respond(code, false, 0, "")
		return
	}
	c.cc.splitTarget()
	c.hasBody = h.chunked || h.contentLength > 0
	keep := !h.close && !c.hasBody
	if s.lim != nil {
		if ok, wait := s.lim.allow(c.cc.ip, c.start); !ok {
			s.m.rejected(rejRateLimit)
			c.respond(429, keep, wait, "")
			return
		}
	}
	rt := s.table.Load().find(&c.cc)
	if rt == nil {
		c.respond(404, keep, 0, "")
		return
	}
	c.rt = rt
	method := b2s(h.first[0])
	c.idem, c.isHead = idempotent(method), method == "HEAD"
	c.upgrading = h.connUpgrade && len(h.upgrade) > 0
	c.retryEnd = c.start.Add(s.o.RetryTimeout)
	c.cc.tried.n = 0
	c.attempts, c.freeRetry, c.failed, c.sent100 = 0, true, false, false
	c.in, c.out = 0, 0
	c.tryBackend()
}

// canRetry counts one more attempt if the options allow it.
func (c *hconn) canRetry() bool {
	s := c.l.s
	if c.attempts < s.o.Retries && c.l.now.Before(c.retryEnd) {
		c.attempts++
		s.m.retry()
		return true
	}
	return false
}

// tryBackend picks a backend and starts the exchange on an idle connection, or connects.
func (c *hconn) tryBackend() {
	s, h, l := c.l.s, &c.cc.req, c.l
	keepUnread := !h.close && !c.hasBody
	for {
		p := c.rt.pick(&c.cc, &c.cc.tried, s.o.MaxConnsPerBackend)
		if p.idx < 0 {
			code := 503
			switch {
			case c.failed:
				code = 502
			case p.capped:
				s.m.rejected(rejSpillCap)
			case p.full:
				s.m.rejected(rejBackendFull)
			default:
				s.m.rejected(rejNoBackend)
			}
			c.respond(code, keepUnread, 0, "")
			return
		}
		u := c.rt.bs[p.idx]
		c.u, c.pk = u, p
		if bc := l.idleConn(u, !c.idem || c.hasBody); bc != nil {
			c.attach(bc, true)
			c.beginExchange()
			return
		}
		timeout := s.o.BackendTimeout
		if c.attempts > 0 || s.o.Retries > 0 {
			timeout = min(timeout, max(c.retryEnd.Sub(l.now), 100*time.Millisecond))
		}
		bc, err := l.connect(u)
		if err == nil {
			c.attach(bc, false)
			c.state = stConnect
			bc.ev = unix.EPOLLOUT
			if err = l.ctl(unix.EPOLL_CTL_ADD, bc.fd, bc.ev, l.fds[bc.fd].gen); err == nil {
				l.setDeadline(c, timeout)
				return
			}
			l.fds[bc.fd] = fdRef{}
			unix.Close(bc.fd)
			c.bc = nil
		}
		if !c.connectFailed(err) {
			return
		}
	}
}

// attach makes bc the backend connection of c.
func (c *hconn) attach(bc *bconn, reused bool) {
	c.bc, c.reused = bc, reused
	if reused {
		c.l.reref(bc.fd, c, bc)
	} else {
		c.l.ref(bc.fd, c, bc)
	}
	c.bReady = false
	c.bBlocked, c.bMute = false, false
	c.boff, c.blen = 0, 0
}

// connected is the end of a non-blocking connect.
func (c *hconn) connected() {
	if n, err := unix.GetsockoptInt(c.bc.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || n != 0 {
		if err == nil {
			err = unix.Errno(n)
		}
		c.closeBackendConn()
		if c.connectFailed(err) {
			c.tryBackend()
		}
		return
	}
	c.beginExchange()
}

// connectFailed counts a failed connect and reports whether to try another backend; if not,
// the client has its 502.
func (c *hconn) connectFailed(err error) bool {
	s, h, u := c.l.s, &c.cc.req, c.u
	c.closeBackendConn()
	c.releaseUpstream()
	c.fail(u)
	c.cc.tried.add(u)
	c.failed = true
	s.o.Logger.Debug("backend connect failed", "backend", u.ID, "err", err)
	if c.canRetry() {
		return true
	}
	c.respond(502, !h.close && !c.hasBody, 0, u.ID)
	return false
}

func (c *hconn) fail(u *balance.Upstream) { u.Failed(c.l.s.o.Outlier) }

func (c *hconn) closeBackendConn() {
	if c.bc != nil {
		c.l.closeBackend(c.bc)
		c.bc = nil
	}
}

func (c *hconn) releaseUpstream() {
	if c.u != nil {
		c.u.Release()
		c.u = nil
	}
}
