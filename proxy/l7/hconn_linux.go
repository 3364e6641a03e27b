//go:build linux

package l7

import (
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

// hconn states.
const (
	stIdle     = iota // reading the next request head (or waiting for one)
	stConnect         // connecting to a backend
	stExchange        // forwarding a request and its response
	stTunnel          // after a 101: raw bytes both ways
	stClosing         // writing a last response, then closing
)

// bodyRaw is a response framing of the loop engine: the body runs to the backend's end of
// stream and goes to the client as it is, the connection closing after it.
const bodyRaw = 4

// hconn is one client connection in the loop engine: a state machine driven by its loop.
// Bytes read from one side are written to the other from the buffer they landed in; while
// they wait for the writer (EPOLLOUT), that side is not read again.
type hconn struct {
	l     *loop
	cc    clientConn // the request view, heads and head builders shared with the go engine
	fd    int        // client; -1 once closed
	idx   int        // in l.conns
	state int
	cev   uint32 // client interest registered

	deadline time.Time

	cin        []byte // client bytes: cin[coff:clen] unread
	coff, clen int
	bin        []byte // backend bytes: bin[boff:blen] unread
	boff, blen int
	cw         []byte // pending for the client
	bw         []byte // pending for the backend
	reqOut     []byte
	respOut    []byte

	cReady, bReady     bool // a read may find bytes (an event said so, or the last read filled the buffer)
	cBlocked, bBlocked bool // a write found the socket full: wait for EPOLLOUT
	cMute, bMute       bool // readable, but not wanted now: interest dropped (level-triggered)
	cEOF, bEOF         bool // tunnel: end of stream read

	// the request
	rt        *route
	pk        pickResult
	u         *balance.Upstream // acquired; released when the exchange ends
	bc        *bconn
	reused    bool
	start     time.Time
	retryEnd  time.Time
	attempts  int
	freeRetry bool
	failed    bool
	sent100   bool
	idem      bool
	hasBody   bool
	isHead    bool
	upgrading bool
	bodyLeft  int64
	reqChunk  chunkParser
	reqDone   bool
	in, out   int64

	// the response
	respHead  bool // the final head was read
	gotByte   bool // the backend sent something
	mode      int
	respLeft  int64
	respChunk chunkParser
	respDone  bool
	keep      bool
}

func (c *hconn) init(l *loop, fd int, ip string) {
	*c = hconn{l: l, fd: fd, cin: c.cin[:cap(c.cin)], bin: c.bin[:cap(c.bin)],
		reqOut: c.reqOut[:0], respOut: c.respOut[:0],
		cc: clientConn{req: c.cc.req, resp: c.cc.resp, out: c.cc.out[:0]}}
	c.cc.s, c.cc.ip, c.cc.proto = l.s, ip, "http"
	c.cReady = true
}

// idle reports whether c waits for a request with nothing of one read.
func (c *hconn) idle() bool {
	return c.state == stIdle && c.coff == c.clen && len(c.cw) == 0
}

func (c *hconn) clientEvent(ev uint32) {
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.cReady = true
		if !c.wantClientRead() {
			c.cMute = true
		}
	}
	if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		c.cBlocked = false
	}
	if ev&unix.EPOLLERR != 0 {
		c.abort()
	}
}

func (c *hconn) backendEvent(ev uint32) {
	if c.state == stConnect {
		if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			c.connected()
		}
		return
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		c.bReady = true
		if !c.wantBackendRead() {
			c.bMute = true
		}
	}
	if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		c.bBlocked = false
	}
	if ev&unix.EPOLLERR != 0 && !c.wantBackendRead() { // reset: level-triggered, it would repeat
		if c.state == stExchange {
			c.backendBroken()
		} else {
			c.abort()
		}
	}
}

func (c *hconn) wantClientRead() bool {
	switch c.state {
	case stIdle:
		return len(c.cw) == 0
	case stExchange:
		return !c.reqDone && len(c.bw) == 0 && c.coff == c.clen
	case stTunnel:
		return !c.cEOF && len(c.bw) == 0 && c.coff == c.clen
	}
	return false
}

func (c *hconn) wantBackendRead() bool {
	switch c.state {
	case stExchange:
		return !c.respDone && len(c.cw) == 0
	case stTunnel:
		return !c.bEOF && len(c.cw) == 0 && c.boff == c.blen
	}
	return false
}

// drive makes all the progress it can, then sets the interests for what is left.
func (c *hconn) drive() {
	for c.fd >= 0 {
		st := c.state
		if !c.step() && c.state == st {
			break
		}
	}
	if c.fd < 0 {
		return
	}
	l := c.l
	ev := uint32(0)
	if want := c.wantClientRead(); want || !c.cMute {
		c.cMute = c.cMute && !want
		ev |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if c.cBlocked && len(c.cw) > 0 {
		ev |= unix.EPOLLOUT
	}
	if ev != c.cev {
		c.cev = ev
		if l.ctl(unix.EPOLL_CTL_MOD, c.fd, ev, l.fds[c.fd].gen) != nil {
			c.abort()
			return
		}
	}
	if bc := c.bc; bc != nil {
		ev := uint32(0)
		switch {
		case c.state == stConnect:
			ev = unix.EPOLLOUT
		default:
			if want := c.wantBackendRead(); want || !c.bMute {
				c.bMute = c.bMute && !want
				ev |= unix.EPOLLIN | unix.EPOLLRDHUP
			}
			if c.bBlocked && len(c.bw) > 0 {
				ev |= unix.EPOLLOUT
			}
		}
		if ev != bc.ev {
			bc.ev = ev
			if l.ctl(unix.EPOLL_CTL_MOD, bc.fd, ev, l.fds[bc.fd].gen) != nil {
				c.abort()
			}
		}
	}
}

// step does one piece of work for the current state; false when c must wait for an event.
func (c *hconn) step() bool {
	switch c.state {
	case stIdle:
		return c.stepIdle()
	case stExchange:
		return c.stepExchange()
	case stTunnel:
		return c.stepTunnel()
	case stClosing:
		switch c.flushClient() {
		case ioDone:
			c.abort()
		case ioErr:
			c.abort()
		}
	}
	return false
}

// I/O results.
const (
	ioDone  = iota // all written / something read
	ioAgain        // would block
	ioErr          // broken
	ioEOF          // end of stream
)

// flushClient writes what is pending for the client.
func (c *hconn) flushClient() int {
	if len(c.cw) == 0 {
		return ioDone
	}
	if c.cBlocked {
		return ioAgain
	}
	n, err := unix.Write(c.fd, c.cw)
	if n > 0 {
		c.cw = c.cw[n:]
	}
	switch {
	case err == unix.EAGAIN || err == nil && len(c.cw) > 0:
		c.cBlocked = true
		return ioAgain
	case err != nil:
		return ioErr
	}
	return ioDone
}

// flushBackend writes what is pending for the backend.
func (c *hconn) flushBackend() int {
	if len(c.bw) == 0 {
		return ioDone
	}
	if c.bBlocked {
		return ioAgain
	}
	n, err := unix.Write(c.bc.fd, c.bw)
	if n > 0 {
		c.bw = c.bw[n:]
	}
	switch {
	case err == unix.EAGAIN || err == nil && len(c.bw) > 0:
		c.bBlocked = true
		return ioAgain
	case err != nil:
		return ioErr
	}
	return ioDone
}

// readClient reads into cin after what is unread; it grows cin (up to max) when it is full.
func (c *hconn) readClient(max int) int {
	if !c.cReady {
		return ioAgain
	}
	if !makeRoom(&c.cin, &c.coff, &c.clen, max) {
		return ioDone // full: the caller sees it has max bytes
	}
	return readInto(c.fd, c.cin, &c.clen, &c.cReady)
}

// readBackend reads into bin after what is unread, likewise.
func (c *hconn) readBackend(max int) int {
	if !c.bReady {
		return ioAgain
	}
	if !makeRoom(&c.bin, &c.boff, &c.blen, max) {
		return ioDone
	}
	return readInto(c.bc.fd, c.bin, &c.blen, &c.bReady)
}

// makeRoom makes space after the unread bytes (*buf)[*off:*n]: it rewinds an emptied buffer,
// moves the unread bytes to the front of a full one, or grows it (doubling, up to max). It
// reports false when the buffer already holds max unread bytes.
func makeRoom(buf *[]byte, off, n *int, max int) bool {
	if *off == *n {
		*off, *n = 0, 0
	}
	if *n < len(*buf) {
		return true
	}
	switch {
	case *off > 0:
		*n = copy(*buf, (*buf)[*off:*n])
		*off = 0
	case len(*buf) < max:
		nb := make([]byte, min(2*len(*buf), max))
		copy(nb, (*buf)[:*n])
		*buf = nb
	default:
		return false
	}
	return true
}

func readInto(fd int, buf []byte, end *int, ready *bool) int {
	n, err := unix.Read(fd, buf[*end:])
	switch {
	case err == unix.EAGAIN:
		*ready = false
		return ioAgain
	case err != nil:
		return ioErr
	case n == 0:
		return ioEOF
	}
	if *end+n < len(buf) {
		*ready = false // a short read emptied the socket
	}
	*end += n
	return ioDone
}

// abort closes c and its backend connection now.
func (c *hconn) abort() {
	if c.fd < 0 {
		return
	}
	l, s := c.l, c.l.s
	if c.bc != nil {
		l.closeBackend(c.bc)
		c.bc = nil
	}
	if c.u != nil {
		c.u.Release()
		c.u = nil
	}
	l.forget(c.fd)
	if s.o.Feedback != nil {
		observeFD(s, c.fd)
	}
	unix.Close(c.fd)
	c.fd = -1
	last := len(l.conns) - 1
	l.conns[c.idx] = l.conns[last]
	l.conns[c.idx].idx = c.idx
	l.conns[last] = nil
	l.conns = l.conns[:last]
	s.m.connClosed()
	s.nconns.Add(-1)
	s.connWG.Done()
	if len(l.free) < maxFreeConns && len(c.cin) == connBuf && len(c.bin) == connBuf {
		c.rt, c.cw, c.bw = nil, nil, nil
		c.cc.s, c.cc.tried = nil, tried{}
		l.free = append(l.free, c)
	}
}

// observeFD shows the feedback observer the client connection on fd, through a duplicate.
func observeFD(s *Server, fd int) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(dup), "client")
	nc, err := netFileConn(f)
	f.Close()
	if err != nil {
		return
	}
	if tc := asTCP(nc); tc != nil {
		s.o.Feedback.ObserveConn(tc)
	}
	nc.Close()
}

// timeout acts on c's passed deadline.
func (c *hconn) timeout() {
	switch c.state {
	case stIdle:
		if c.coff < c.clen && len(c.cw) == 0 { // a head started: 408
			c.start = c.l.now
			c.respond(408, false, 0, "")
			c.l.setDeadline(c, time.Second)
			c.drive()
			return
		}
	case stConnect:
		c.connectFailed(errConnectTimeout)
		c.drive()
		return
	case stExchange:
		if !c.respHead && len(c.cw) == 0 && c.out == 0 {
			c.fail(c.u)
			c.respond(504, false, 0, c.u.ID)
			c.closeBackendConn()
			c.releaseUpstream()
			c.drive()
			return
		}
	}
	c.abort()
}
