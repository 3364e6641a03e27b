//go:build linux

package l4

import (
	"errors"
	"net"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// readEvents is the interest of an end the loop reads from (level-triggered).
const readEvents = unix.EPOLLIN | unix.EPOLLRDHUP

// relay is a connection's state in its event loop: the client end and the backend end.
// Only the loop goroutine touches it after the hand-off.
type relay struct {
	ends     [2]end // client, backend
	open     bool   // registered in the loop's epoll set
	closed   bool   // finished: descriptors closed, metrics settled
	failed   bool   // an epoll_ctl failed: finish the connection
	observed bool   // the feedback observer saw the client
}

// end is one socket of a proxied connection. Bytes read from it are written to peer at once;
// what the peer does not take waits in buf[off:lim], and the end is not read again until the
// peer (waiting for EPOLLOUT) took it all. At most one buffer per direction, so a slow reader
// stops the writer through TCP's own flow control.
type end struct {
	c      *conn
	fd     int
	peer   *end
	copied *atomic.Int64 // bytes read here and written to peer (conn.in or conn.out)

	buf      []byte
	off, lim int
	ev       uint32 // registered interest
	rdone    bool   // read EOF from this end
	wdone    bool   // sent our FIN to this end (SHUT_WR)
	detached bool   // out of the epoll set: hung up, and done or stalled (see handle)
}

// init sets c's relay up for the client and backend descriptors.
func (r *relay) init(c *conn, cfd, bfd int) {
	r.ends[0] = end{c: c, fd: cfd, copied: &c.in}
	r.ends[1] = end{c: c, fd: bfd, copied: &c.out}
	r.ends[0].peer, r.ends[1].peer = &r.ends[1], &r.ends[0]
}

// done reports whether both directions ended: each end read to EOF and sent its FIN.
func (r *relay) done() bool {
	return r.ends[0].rdone && r.ends[0].wdone && r.ends[1].rdone && r.ends[1].wdone
}

// handle acts on the events ev of end e.
func (l *loop) handle(e *end, ev uint32) {
	c := e.c
	ok := true
	if ev&unix.EPOLLOUT != 0 && e.peer.lim > e.peer.off {
		ok = l.flush(e.peer)
	}
	switch {
	case !ok:
	case e.ev&unix.EPOLLIN != 0 && ev&(readEvents|unix.EPOLLHUP|unix.EPOLLERR) != 0:
		ok = l.read(e) // a reset or hang-up shows as the read's error or EOF
	case ev&unix.EPOLLERR != 0:
		ok = false
	case ev&unix.EPOLLHUP != 0:
		// Shut both ways, and level-triggered HUP repeats until the descriptor leaves the
		// epoll set. Either both directions are done here while the peer still flushes, or
		// the peer stalled this end, which still holds unread data and its EOF: it comes
		// back when the stall clears. Otherwise the socket was reset.
		switch {
		case e.rdone && e.wdone, e.lim > e.off:
			l.detach(e)
		default:
			ok = false
		}
	}
	if !ok || c.ep.failed || c.ep.done() {
		l.finish(c)
	}
}

// read reads once from e and forwards what came; false means the connection is broken.
func (l *loop) read(e *end) bool {
	n, err := unix.Read(e.fd, l.scratch)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return true
	case err != nil:
		return false
	case n == 0:
		if e == &e.c.ep.ends[0] {
			l.observe(e.c)
		}
		e.rdone = true
		l.setEvents(e, e.ev&^readEvents)
		return l.shutPeer(e)
	}
	return l.forward(e, l.scratch[:n])
}

// forward writes p, just read from src, to src's peer. What the peer does not take is kept,
// and src is not read until the peer took it.
func (l *loop) forward(src *end, p []byte) bool {
	dst := src.peer
	n, err := unix.Write(dst.fd, p)
	if err != nil {
		if err != unix.EAGAIN {
			return false
		}
		n = 0
	}
	src.copied.Add(int64(n))
	if n == len(p) {
		return true
	}
	src.buf = l.getBuf()
	src.off, src.lim = 0, copy(src.buf, p[n:])
	l.s.stalls.Add(1)
	l.s.held.Add(int64(src.lim))
	l.setEvents(src, src.ev&^readEvents)
	l.setEvents(dst, dst.ev|unix.EPOLLOUT)
	return true
}

// flush writes src's kept bytes to its peer, which is writable again. Once all are written
// src is read again, or, when src had already ended, the peer gets its FIN.
func (l *loop) flush(src *end) bool {
	dst := src.peer
	n, err := unix.Write(dst.fd, src.buf[src.off:src.lim])
	if err != nil {
		return err == unix.EAGAIN
	}
	src.copied.Add(int64(n))
	src.off += n
	l.s.held.Add(-int64(n))
	if src.off < src.lim {
		return true
	}
	l.putBuf(src.buf)
	src.buf, src.off, src.lim = nil, 0, 0
	l.setEvents(dst, dst.ev&^unix.EPOLLOUT)
	if src.rdone {
		return l.shutPeer(src)
	}
	if src.detached { // hung up while stalled: read what is left, then the EOF
		return l.attach(src)
	}
	l.setEvents(src, src.ev|readEvents)
	return true
}

// shutPeer half-closes src's peer after src ended, once nothing from src waits for it.
func (l *loop) shutPeer(src *end) bool {
	dst := src.peer
	if dst.wdone || src.lim > src.off {
		return true
	}
	if dst == &dst.c.ep.ends[0] {
		l.observe(dst.c)
	}
	dst.wdone = true
	return unix.Shutdown(dst.fd, unix.SHUT_WR) == nil
}

// setEvents changes e's registered interest.
func (l *loop) setEvents(e *end, ev uint32) {
	if ev == e.ev || e.detached {
		return
	}
	e.ev = ev
	ee := unix.EpollEvent{Events: ev, Fd: int32(e.fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, e.fd, &ee); err != nil {
		l.s.log.Warn("epoll_ctl mod failed", "err", err)
		e.c.ep.failed = true
	}
}

// attach puts e back in the epoll set, reading.
func (l *loop) attach(e *end) bool {
	ev := unix.EpollEvent{Events: readEvents, Fd: int32(e.fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, e.fd, &ev); err != nil {
		l.s.log.Warn("epoll_ctl add failed", "err", err)
		return false
	}
	e.ev, e.detached = readEvents, false
	l.ends[e.fd] = e
	return true
}

// detach takes e out of the epoll set.
func (l *loop) detach(e *end) {
	if e.detached {
		return
	}
	e.detached = true
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, e.fd, nil)
	l.ends[e.fd] = nil
}

// finish ends c: both descriptors out of the epoll set and closed (the client's after the
// feedback observer saw it), the backend released, the metrics settled.
func (l *loop) finish(c *conn) {
	r := &c.ep
	if r.closed {
		return
	}
	r.closed = true
	for i := range r.ends {
		e := &r.ends[i]
		if r.open {
			l.detach(e)
		}
		if e.buf != nil {
			l.s.held.Add(-int64(e.lim - e.off))
			l.putBuf(e.buf)
			e.buf = nil
		}
	}
	if r.open {
		r.open = false
		l.conns--
	}
	unix.Close(r.ends[1].fd)
	l.observe(c)
	unix.Close(r.ends[0].fd)
	s := c.s
	c.up.Release()
	c.flush()
	s.track(c, false)
	s.connDone()
}

// observe shows the client's socket to the feedback observer, once, through a *net.TCPConn
// made for it from a duplicate descriptor (per connection, not per event). The loop calls it
// when the client's traffic is over (its FIN came, or ours is about to go) and before it
// closes the connection; the socket must still be connected then, for its address. A client
// that reset the connection has none any more, and is not observed.
func (l *loop) observe(c *conn) {
	o := c.s.o.Feedback
	if o == nil || c.ep.observed {
		return
	}
	c.ep.observed = true
	fd, err := unix.FcntlInt(uintptr(c.ep.ends[0].fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		l.s.log.Debug("no connection for the feedback observer", "err", err)
		return
	}
	f := os.NewFile(uintptr(fd), "client")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		l.s.log.Debug("no connection for the feedback observer", "err", err)
		return
	}
	if tc, ok := nc.(*net.TCPConn); ok && tc.RemoteAddr() != nil {
		o.ObserveConn(tc)
	}
	nc.Close()
}

// handOff moves c's two connected sockets out of Go's netpoller into an event loop: each
// descriptor is duplicated, the Go conns are closed (which drops them from the netpoller but
// leaves the sockets open through the duplicates) and the loop registers the duplicates. It
// reports whether the loop now owns c; if not, c is closed and released.
func (s *Server) handOff(c *conn) bool {
	cfd, err1 := dupFD(c.client)
	bfd, err2 := dupFD(c.backend)
	if err := errors.Join(err1, err2); err != nil {
		for _, fd := range []int{cfd, bfd} {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
		s.log.Warn("hand-off to event loop failed", "err", err)
		c.abort()
		c.up.Release()
		return false
	}
	c.client.Close()
	c.backend.Close()
	c.client, c.backend = nil, nil
	c.ep.init(c, cfd, bfd)
	c.l = s.loops[int(s.nextLoop.Add(1))%len(s.loops)]
	s.track(c, true)
	c.l.add(c)
	return true
}

// dupFD returns a non-blocking, close-on-exec duplicate of tc's descriptor, or -1 and an error.
func dupFD(tc *net.TCPConn) (int, error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
