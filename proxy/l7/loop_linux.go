//go:build linux

package l7

import (
	"errors"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/meridian-gslb/meridian/proxy/balance"
	"github.com/meridian-gslb/meridian/proxy/internal/epoll"
)

// loopSupported tells New whether Engine "loop" can run here.
const loopSupported = true

const (
	// loopWaitMS bounds each epoll_pwait: the sweep runs at least this often.
	loopWaitMS = 250
	loopEvents = 256
	// connBuf is the size of each connection's client and backend read buffers.
	connBuf = 16 << 10
	// maxFreeConns is how many finished connections (with their buffers) a loop keeps.
	maxFreeConns = 256
)

// handoff is an accepted client connection on its way to a loop.
type handoff struct {
	fd int
	ip string
}

// loop is one event loop of the loop engine: a goroutine, asleep in the kernel when idle, that
// owns the descriptors of the client connections handed to it and of their backend
// connections. Other goroutines talk to it only through its queue and the eventfd that wakes it.
type loop struct {
	s    *Server
	ep   *epoll.Set
	epfd int // ep.FD
	done chan struct{}

	mu    sync.Mutex
	adds  []handoff
	stop  bool
	force bool // close every connection now (the drain timeout of a shutdown passed)

	// owned by the loop goroutine
	fds       []fdRef // by descriptor
	gen       uint32  // tags registrations, so that stale events of a reused descriptor are ignored
	conns     []*hconn
	free      []*hconn
	freeB     []*bconn
	backs     map[*balance.Upstream]*upstreamState
	events    [loopEvents]unix.EpollEvent
	addBatch  []handoff
	now       time.Time
	nextScan  time.Time
	lastSweep time.Time
}

// fdRef is what a descriptor in the epoll set belongs to: a client connection (c), its
// backend connection (c and bc), or an idle backend connection (bc).
type fdRef struct {
	c   *hconn
	bc  *bconn
	gen uint32
}

// upstreamState is a loop's view of one backend: its address and idle connections (LIFO).
type upstreamState struct {
	sa   unix.Sockaddr
	idle []*bconn
}

// bconn is a connection to a backend owned by a loop.
type bconn struct {
	fd        int
	u         *balance.Upstream
	ev        uint32
	idleSince time.Time
}

func newLoop(s *Server) (*loop, error) {
	ep, err := epoll.New()
	if err != nil {
		return nil, err
	}
	return &loop{s: s, ep: ep, epfd: ep.FD, done: make(chan struct{}),
		backs: make(map[*balance.Upstream]*upstreamState)}, nil
}

// startLoops starts Options.Loops event loops for Serve.
func (s *Server) startLoops() error {
	for range s.o.Loops {
		l, err := newLoop(s)
		if err != nil {
			for _, l := range s.loops {
				l.ep.Close()
			}
			s.loops = nil
			return err
		}
		s.loops = append(s.loops, l)
	}
	for _, l := range s.loops {
		go l.run()
	}
	return nil
}

// stopLoops stops the loops and waits for them; Serve calls it once every connection ended.
func (s *Server) stopLoops() {
	for _, l := range s.loops {
		l.mu.Lock()
		l.stop = true
		l.mu.Unlock()
		l.wake()
	}
	for _, l := range s.loops {
		<-l.done
	}
}

// wakeLoops makes the loops look at the server's state now: while shutting down they close
// their idle client connections, and with force every connection.
func (s *Server) wakeLoops(force bool) {
	for _, l := range s.loops {
		if force {
			l.mu.Lock()
			l.force = true
			l.mu.Unlock()
		}
		l.wake()
	}
}

// handOff moves an accepted connection out of Go's netpoller into a loop; false if it could
// not (the caller then serves it with the go engine).
func (s *Server) handOff(tcp *net.TCPConn) bool {
	rc, err := tcp.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	var derr error
	if err := rc.Control(func(sfd uintptr) { fd, derr = unix.FcntlInt(sfd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || derr != nil {
		return false
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return false
	}
	ip := clientIP(tcp.RemoteAddr())
	tcp.Close()
	l := s.loops[int(s.nextLoop.Add(1))%len(s.loops)]
	l.mu.Lock()
	l.adds = append(l.adds, handoff{fd: fd, ip: ip})
	l.mu.Unlock()
	l.wake()
	return true
}

// wake makes the loop look at its queue.
func (l *loop) wake() { l.ep.Wake() }

// run is the loop: wait for events, drive the connections they concern, take hand-offs, and
// look at the deadlines when one is due.
func (l *loop) run() {
	defer close(l.done)
	defer l.close()
	l.now = time.Now()
	l.lastSweep = l.now
	l.nextScan = l.now.Add(loopWaitMS * time.Millisecond)
	for {
		wait := l.nextScan.Sub(l.now)
		ms := int((wait + time.Millisecond - 1) / time.Millisecond)
		ms = min(max(ms, 0), loopWaitMS)
		n, err := l.wait(ms)
		if err != nil {
			if !errors.Is(err, unix.EINTR) {
				l.s.o.Logger.Error("epoll_pwait failed", "err", err)
				time.Sleep(10 * time.Millisecond)
			}
			epoll.PreemptionPoint()
		}
		l.now = time.Now()
		woken := false
		for i := 0; i < n; i++ {
			ev := &l.events[i]
			if ev.Pad == epoll.WakePad {
				woken = true
				continue
			}
			l.event(ev)
		}
		if woken && l.requests() {
			return
		}
		if !l.now.Before(l.nextScan) {
			l.scan()
		}
	}
}

// wait sleeps in the kernel until events come, at most ms (see proxy/internal/epoll).
func (l *loop) wait(ms int) (int, error) { return l.ep.Wait(l.events[:], ms) }

// requests registers handed-off connections and acts on shutdown; it reports whether the
// loop is to stop.
func (l *loop) requests() bool {
	l.ep.Ack()
	l.mu.Lock()
	l.addBatch, l.adds = l.adds, l.addBatch[:0]
	stop, force := l.stop, l.force
	l.mu.Unlock()
	for i, h := range l.addBatch {
		l.accept(h)
		l.addBatch[i] = handoff{}
	}
	if force || l.s.idleClose.Load() {
		for i := len(l.conns) - 1; i >= 0; i-- {
			if c := l.conns[i]; force || c.idle() {
				c.abort()
			}
		}
	}
	return stop && len(l.conns) == 0
}

// scan ends the connections whose deadline passed and, every loopWaitMS, sweeps: idle
// backend connections that must not be reused, and connections to backends draining for
// longer than DrainTimeout.
func (l *loop) scan() {
	now := l.now
	next := now.Add(loopWaitMS * time.Millisecond)
	sweep := now.Sub(l.lastSweep) >= loopWaitMS*time.Millisecond
	if sweep {
		l.lastSweep = now
		l.sweepIdle(now)
	}
	for i := len(l.conns) - 1; i >= 0; i-- {
		c := l.conns[i]
		if sweep && c.u != nil {
			if since := c.u.DrainingSince(); !since.IsZero() && now.Sub(since) > l.s.o.DrainTimeout {
				c.abort()
				continue
			}
		}
		if !c.deadline.After(now) {
			c.timeout()
			if c.fd < 0 {
				continue
			}
		}
		if c.fd >= 0 && c.deadline.Before(next) {
			next = c.deadline
		}
	}
	l.nextScan = next
}

// setDeadline sets c's deadline d from now, bringing the next scan forward if need be.
func (l *loop) setDeadline(c *hconn, d time.Duration) {
	c.deadline = l.now.Add(d)
	if c.deadline.Before(l.nextScan) {
		l.nextScan = c.deadline
	}
}

// close ends every connection and releases the loop's descriptors.
func (l *loop) close() {
	for i := len(l.conns) - 1; i >= 0; i-- {
		l.conns[i].abort()
	}
	for _, st := range l.backs {
		for _, bc := range st.idle {
			l.closeBackend(bc)
		}
		st.idle = nil
	}
	l.ep.Close()
}

// ref points descriptor fd at r (a new registration generation) and returns the generation.
func (l *loop) ref(fd int, c *hconn, bc *bconn) uint32 {
	for fd >= len(l.fds) {
		l.fds = append(l.fds, fdRef{})
	}
	if l.gen++; l.gen == ^uint32(0) { // never -1 as an int32: the eventfd's tag
		l.gen = 1
	}
	l.fds[fd] = fdRef{c: c, bc: bc, gen: l.gen}
	return l.gen
}

// reref points descriptor fd, already registered, at c and bc.
func (l *loop) reref(fd int, c *hconn, bc *bconn) {
	r := &l.fds[fd]
	r.c, r.bc = c, bc
}

// ctl adds or modifies fd's registration with interest ev and tag gen.
func (l *loop) ctl(op, fd int, ev uint32, gen uint32) error {
	e := unix.EpollEvent{Events: ev, Fd: int32(fd), Pad: int32(gen)}
	return unix.EpollCtl(l.epfd, op, fd, &e)
}

// forget removes fd from the epoll set and the table, before it is closed.
func (l *loop) forget(fd int) {
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil)
	if fd < len(l.fds) {
		l.fds[fd] = fdRef{}
	}
}

// event dispatches one epoll event.
func (l *loop) event(ev *unix.EpollEvent) {
	fd := int(ev.Fd)
	if fd >= len(l.fds) {
		return
	}
	r := l.fds[fd]
	if r.gen != uint32(ev.Pad) {
		return // the descriptor was closed, and maybe reused, since
	}
	switch {
	case r.c == nil && r.bc != nil:
		l.dropIdle(r.bc) // an idle backend connection closed or spoke out of turn
	case r.c == nil:
	case r.bc == nil:
		r.c.clientEvent(ev.Events)
		r.c.drive()
	default:
		r.c.backendEvent(ev.Events)
		r.c.drive()
	}
}

// accept registers a handed-off client connection.
func (l *loop) accept(h handoff) {
	var c *hconn
	if n := len(l.free); n > 0 {
		c = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		c = &hconn{cin: make([]byte, connBuf), bin: make([]byte, connBuf),
			reqOut: make([]byte, 0, 1024), respOut: make([]byte, 0, 1024)}
		c.cc.out = make([]byte, 0, 256)
	}
	c.init(l, h.fd, h.ip)
	gen := l.ref(h.fd, c, nil)
	c.cev = unix.EPOLLIN | unix.EPOLLRDHUP
	if err := l.ctl(unix.EPOLL_CTL_ADD, h.fd, c.cev, gen); err != nil {
		l.s.o.Logger.Warn("epoll_ctl add failed", "err", err)
		l.fds[h.fd] = fdRef{}
		c.fd = -1
		unix.Close(h.fd)
		l.s.m.connClosed()
		l.s.nconns.Add(-1)
		l.s.connWG.Done()
		l.free = append(l.free, c)
		return
	}
	c.idx = len(l.conns)
	l.conns = append(l.conns, c)
	l.setDeadline(c, l.s.o.HeaderTimeout)
	c.drive()
}
