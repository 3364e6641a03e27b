package l7

import (
	"bufio"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

const (
	maxIdlePerBackend = 512
	idleConnTimeout   = 50 * time.Second // below the common backend keep-alive timeouts (nginx 75 s)
	backendReadBuf    = 16 << 10
	backendWriteBuf   = 8 << 10
)

var errPoolClosed = errors.New("backend pool closed")

// backendConn is one connection to a backend, idle in its pool or used by one request.
type backendConn struct {
	nc        net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
}

// connPool keeps the keep-alive connections to one backend: idle ones in a LIFO (the most
// recently used is the warmest and the least likely to have been closed by the backend),
// and every open one, so that draining can end them.
type connPool struct {
	u *balance.Upstream

	mu     sync.Mutex
	idle   []*backendConn
	all    map[*backendConn]struct{}
	closed bool
}

func newConnPool(u *balance.Upstream) *connPool {
	return &connPool{u: u, all: make(map[*backendConn]struct{})}
}

// get returns an idle connection (reused true) or dials a new one within timeout. With
// check, an idle connection is first tested for having been closed by the backend, for
// requests that could not be sent again if it had.
func (p *connPool) get(timeout time.Duration, check bool) (bc *backendConn, reused bool, err error) {
	p.mu.Lock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		bc = p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if check && !alive(bc.nc) {
			bc.nc.Close()
			delete(p.all, bc)
			continue
		}
		p.mu.Unlock()
		return bc, true, nil
	}
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, false, errPoolClosed
	}
	nc, err := net.DialTimeout("tcp", p.u.Addr, timeout)
	if err != nil {
		return nil, false, err
	}
	bc = &backendConn{nc: nc, br: bufio.NewReaderSize(nc, backendReadBuf), bw: bufio.NewWriterSize(nc, backendWriteBuf)}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		nc.Close()
		return nil, false, errPoolClosed
	}
	p.all[bc] = struct{}{}
	p.mu.Unlock()
	return bc, false, nil
}

// put returns a connection whose exchange ended cleanly; it is closed instead when the
// backend is no longer available or the pool is full or closed.
func (p *connPool) put(bc *backendConn, now time.Time) {
	if bc.br.Buffered() > 0 || !p.u.Available() {
		p.discard(bc)
		return
	}
	bc.idleSince = now
	p.mu.Lock()
	if p.closed || len(p.idle) >= maxIdlePerBackend {
		p.mu.Unlock()
		p.discard(bc)
		return
	}
	p.idle = append(p.idle, bc)
	p.mu.Unlock()
}

// discard closes a connection that is not idle in the pool.
func (p *connPool) discard(bc *backendConn) {
	bc.nc.Close()
	p.mu.Lock()
	delete(p.all, bc)
	p.mu.Unlock()
}

// sweep closes idle connections to a backend that is not available or that have been idle
// too long, and every connection to a backend draining for longer than drainTimeout.
func (p *connPool) sweep(now time.Time, drainTimeout time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	avail := p.u.Available()
	keep := p.idle[:0]
	for _, bc := range p.idle {
		if avail && now.Sub(bc.idleSince) < idleConnTimeout {
			keep = append(keep, bc)
			continue
		}
		bc.nc.Close()
		delete(p.all, bc)
	}
	clear(p.idle[len(keep):])
	p.idle = keep
	if since := p.u.DrainingSince(); !since.IsZero() && now.Sub(since) > drainTimeout {
		for bc := range p.all {
			bc.nc.Close() // the request using it fails and discards it
		}
	}
}

// close closes the idle connections and refuses new ones; with force, it also closes the
// ones in use.
func (p *connPool) close(force bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, bc := range p.idle {
		bc.nc.Close()
		delete(p.all, bc)
	}
	p.idle = nil
	if force {
		for bc := range p.all {
			bc.nc.Close()
		}
	}
}

// alive reports whether an idle connection is still open and quiet: a non-blocking peek
// that finds neither an end of stream nor unexpected bytes.
func alive(nc net.Conn) bool {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return true
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	ok = false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
		return true
	})
	return ok && err == nil
}
