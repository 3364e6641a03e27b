//go:build linux

package l7

import (
	"net"
	"time"

	"golang.org/x/sys/unix"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

// A loop's connections to backends: idle ones per backend in a LIFO, new ones connected
// without blocking.

// sweepIdle closes idle connections to backends not available, or idle too long.
func (l *loop) sweepIdle(now time.Time) {
	for u, st := range l.backs {
		avail := u.Available()
		keep := st.idle[:0]
		for _, bc := range st.idle {
			if avail && now.Sub(bc.idleSince) < idleConnTimeout {
				keep = append(keep, bc)
				continue
			}
			l.closeBackend(bc)
		}
		clear(st.idle[len(keep):])
		st.idle = keep
	}
}

// upstream returns the loop's state for u, resolving its address the first time.
func (l *loop) upstream(u *balance.Upstream) (*upstreamState, error) {
	if st := l.backs[u]; st != nil {
		return st, nil
	}
	a, err := net.ResolveTCPAddr("tcp", u.Addr)
	if err != nil {
		return nil, err
	}
	st := &upstreamState{}
	if ip4 := a.IP.To4(); ip4 != nil {
		sa := &unix.SockaddrInet4{Port: a.Port}
		copy(sa.Addr[:], ip4)
		st.sa = sa
	} else {
		sa := &unix.SockaddrInet6{Port: a.Port}
		copy(sa.Addr[:], a.IP.To16())
		st.sa = sa
	}
	l.backs[u] = st
	return st, nil
}

// idleConn returns the most recently used idle connection to u, or nil. Connections to a
// backend that is not available are closed. With check, the connection is first tested for
// having been closed by the backend.
func (l *loop) idleConn(u *balance.Upstream, check bool) *bconn {
	st := l.backs[u]
	if st == nil {
		return nil
	}
	for n := len(st.idle); n > 0; n = len(st.idle) {
		bc := st.idle[n-1]
		st.idle[n-1] = nil
		st.idle = st.idle[:n-1]
		if !u.Available() || check && !fdAlive(bc.fd) {
			l.closeBackend(bc)
			continue
		}
		return bc
	}
	return nil
}

// fdAlive reports whether an idle connection is open and quiet.
func fdAlive(fd int) bool {
	var b [1]byte
	_, _, err := unix.Recvfrom(fd, b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return err == unix.EAGAIN
}

// connect starts a non-blocking connection to u.
func (l *loop) connect(u *balance.Upstream) (*bconn, error) {
	st, err := l.upstream(u)
	if err != nil {
		return nil, err
	}
	family := unix.AF_INET
	if _, ok := st.sa.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if err := unix.Connect(fd, st.sa); err != nil && err != unix.EINPROGRESS {
		unix.Close(fd)
		return nil, err
	}
	var bc *bconn
	if n := len(l.freeB); n > 0 {
		bc = l.freeB[n-1]
		l.freeB = l.freeB[:n-1]
	} else {
		bc = &bconn{}
	}
	*bc = bconn{fd: fd, u: u}
	return bc, nil
}

// putIdle keeps bc for reuse; it is closed instead when its backend is no longer available or
// enough are idle.
func (l *loop) putIdle(bc *bconn) {
	st := l.backs[bc.u]
	if st == nil || !bc.u.Available() || len(st.idle) >= maxIdlePerBackend || l.s.closing.Load() {
		l.closeBackend(bc)
		return
	}
	l.reref(bc.fd, nil, bc)
	if ev := uint32(unix.EPOLLIN | unix.EPOLLRDHUP); bc.ev != ev {
		bc.ev = ev
		if l.ctl(unix.EPOLL_CTL_MOD, bc.fd, ev, l.fds[bc.fd].gen) != nil {
			l.closeBackend(bc)
			return
		}
	}
	bc.idleSince = l.now
	st.idle = append(st.idle, bc)
}

// dropIdle closes an idle connection and takes it out of its backend's list.
func (l *loop) dropIdle(bc *bconn) {
	if st := l.backs[bc.u]; st != nil {
		for i, v := range st.idle {
			if v == bc {
				copy(st.idle[i:], st.idle[i+1:])
				st.idle[len(st.idle)-1] = nil
				st.idle = st.idle[:len(st.idle)-1]
				break
			}
		}
	}
	l.closeBackend(bc)
}

// closeBackend closes bc, which is in no idle list.
func (l *loop) closeBackend(bc *bconn) {
	l.forget(bc.fd)
	unix.Close(bc.fd)
	bc.fd = -1
	bc.u = nil
	if len(l.freeB) < maxIdlePerBackend {
		l.freeB = append(l.freeB, bc)
	}
}
