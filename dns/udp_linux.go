package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDP on Linux works as gdnsd does: each socket is served by one goroutine that sleeps *in the
// kernel*, in a blocking recvmmsg, and moves up to udpBatch datagrams each way per system call,
// with no buffer allocated per query.
//
// The socket is ours, not the netpoller's: it is opened in blocking mode, never registered with
// epoll, and its system calls are raw (no scheduler bookkeeping). An arriving query wakes the
// reader thread directly from the network stack. Through the netpoller it would instead wake the
// thread in epoll_wait, which must find a P, mark the reader goroutine runnable and often hand
// it to another thread: on a loaded 2-core machine those hops are what made Meridian's p99
// latency several times gdnsd's (measured: see the README's performance section).
//
// Because a raw call keeps its P while it sleeps, each reader holds one P for good; whoever runs
// the server adds one to GOMAXPROCS per UDP socket (Server.HeldProcs) so the rest of the process
// keeps as many as before.
// The goroutine still stops for the garbage collector: SO_RCVTIMEO makes the kernel end the
// sleep with EINTR when the runtime's preemption signal arrives (signal(7): socket calls with a
// timeout are never restarted) and at the latest after udpWake, and the loop then passes a
// preemption point.

// udpReaderHoldsP: each UDP reader needs a P of its own (Server.HeldProcs).
const udpReaderHoldsP = true

const (
	udpBatch = 64
	udpBuf   = 4096 // queries larger than this are dropped; replies never exceed edns_buffer <= 4096
	udpWake  = 100 * time.Millisecond
)

// udpConn is one blocking UDP socket. Close wakes its reader, which closes the descriptor when
// it leaves serveUDP; a socket that never served is closed by Close itself.
type udpConn struct {
	fd      int
	local   netip.AddrPort
	shared  atomic.Bool // another process reads the socket too (handover.go): Close must not shut it down
	closing atomic.Bool
	state   atomic.Int32 // udpIdle → udpServing (serveUDP) or udpClosed (Close before serving)
	done    chan struct{}
}

const (
	udpIdle int32 = iota
	udpServing
	udpClosed
)

// listenUDP opens, configures and binds one UDP socket on a (port 0 picks a free port).
func listenUDP(_ context.Context, a netip.AddrPort) (*udpConn, error) {
	family, network := unix.AF_INET, "udp4"
	if a.Addr().Is6() && !a.Addr().Is4In6() {
		family, network = unix.AF_INET6, "udp6"
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	tv := unix.NsecToTimeval(udpWake.Nanoseconds())
	err = errors.Join(
		setSocketOptions(fd, network),
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv),
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv),
	)
	if err == nil && family == unix.AF_INET6 {
		err = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	}
	if err == nil {
		err = unix.Bind(fd, toSockaddr(a))
	}
	var sa unix.Sockaddr
	if err == nil {
		sa, err = unix.Getsockname(fd)
	}
	if err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	return &udpConn{fd: fd, local: fromSockaddr(sa), done: make(chan struct{})}, nil
}

func (u *udpConn) LocalAddr() netip.AddrPort { return u.local }

// Close stops the reader: shutdown wakes a blocked recvmmsg at once. It waits for the reader to
// let go of the descriptor, so the number cannot be reused under it.
func (u *udpConn) Close() error {
	if u.closing.Swap(true) {
		return nil
	}
	if u.state.CompareAndSwap(udpIdle, udpClosed) {
		return unix.Close(u.fd)
	}
	if !u.shared.Load() {
		// ENOTCONN on an unconnected socket, but it wakes the reader at once. A shared socket
		// would be shut for the other process too: its reader stops within udpWake instead.
		_ = unix.Shutdown(u.fd, unix.SHUT_RDWR)
	}
	<-u.done
	return nil
}

// share marks the socket as read by another process too.
func (u *udpConn) share() { u.shared.Store(true) }

// file is a duplicate of the socket for another process.
func (u *udpConn) file() (*os.File, error) {
	fd, err := unix.FcntlInt(uintptr(u.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "udp "+u.local.String()), nil
}

// udpFromFile serves a socket another process handed over: its own duplicate, set up as
// listenUDP sets up a new one (blocking, with the wake-up timeouts).
func udpFromFile(f *os.File) (*udpConn, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	tv := unix.NsecToTimeval(udpWake.Nanoseconds())
	sa, err := unix.Getsockname(fd)
	if err == nil {
		err = errors.Join(unix.SetNonblock(fd, false),
			unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv),
			unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv))
	}
	if err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	return &udpConn{fd: fd, local: fromSockaddr(sa), done: make(chan struct{})}, nil
}

type udpRing struct {
	recv  [udpBatch]unix.Mmsghdr
	send  [udpBatch]unix.Mmsghdr
	riov  [udpBatch]unix.Iovec
	siov  [udpBatch]unix.Iovec
	names [udpBatch]unix.RawSockaddrInet6
	in    [udpBatch][udpBuf]byte
	out   [udpBatch][udpBuf]byte
}

func newUDPRing() *udpRing {
	r := new(udpRing)
	for i := range r.recv {
		r.riov[i].Base = &r.in[i][0]
		r.riov[i].SetLen(udpBuf)
		h := &r.recv[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.riov[i]
		h.SetIovlen(1)
	}
	return r
}

func (s *Server) serveUDP(u *udpConn) error {
	if !u.state.CompareAndSwap(udpIdle, udpServing) {
		return nil // closed before the reader started
	}
	defer func() {
		_ = unix.Close(u.fd)
		close(u.done)
	}()
	r := newUDPRing()
	fd := uintptr(u.fd)
	for !u.closing.Load() {
		for i := range r.recv {
			r.recv[i].Hdr.Namelen = unix.SizeofSockaddrInet6
			r.recv[i].Hdr.Flags = 0
		}
		// Sleeps until at least one datagram is there (MSG_WAITFORONE: then takes only what
		// is already queued), a signal, shutdown, or udpWake.
		got, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.recv[0])), udpBatch, unix.MSG_WAITFORONE, 0, 0)
		switch e {
		case 0:
		case unix.EAGAIN, unix.EINTR:
			// A signal (perhaps the runtime asking to stop the world or to scan our stack)
			// or udpWake of idleness. Neither the raw call nor this loop is a preemption point.
			preemptionPoint()
			continue
		default:
			s.log.Warn("recvmmsg", "err", e)
			preemptionPoint()
			continue
		}
		m := 0
		for i := range int(got) {
			h := &r.recv[i]
			if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
				s.h.metrics.dropped.WithLabelValues("oversized").Inc()
				continue
			}
			src := sockaddrAddrPort(&r.names[i])
			resp := s.h.Respond(r.out[i][:], r.in[i][:h.Len], UDP, src)
			if len(resp) == 0 {
				continue
			}
			r.siov[m].Base = &resp[0]
			r.siov[m].SetLen(len(resp))
			sh := &r.send[m].Hdr
			sh.Name = h.Hdr.Name
			sh.Namelen = h.Hdr.Namelen
			sh.Iov = &r.siov[m]
			sh.SetIovlen(1)
			m++
		}
		// Write every reply, closing or not (a query read is a query answered, also when another
		// process takes the socket over). A blocking send waits only while the socket's send
		// buffer is full, at most udpWake; a reply the kernel rejects is skipped and counted.
		for sent := 0; sent < m; {
			n, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&r.send[sent])), uintptr(m-sent), 0, 0, 0)
			switch e {
			case 0:
				sent += int(n)
			case unix.EINTR:
				preemptionPoint()
			default:
				s.log.Debug("sendmmsg", "err", e)
				s.h.metrics.dropped.WithLabelValues("send_error").Inc()
				sent++
			}
		}
	}
	return nil
}

// preemptionPoint lets the runtime stop this goroutine if it asked to. Its prologue checks the
// stack guard, where a pending preemption is noticed, so it must stay a call: runtime.Gosched
// alone would only requeue the goroutine, and the same thread would take it straight back into
// recvmmsg while the garbage collector waits to scan its stack (measured: 10–40 ms per idle
// collection with Gosched alone, 0.5–4 ms with this).
//
//go:noinline
func preemptionPoint() { runtime.Gosched() }

func toSockaddr(a netip.AddrPort) unix.Sockaddr {
	if a.Addr().Is4() || a.Addr().Is4In6() {
		return &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().Unmap().As4()}
	}
	return &unix.SockaddrInet6{Port: int(a.Port()), Addr: a.Addr().As16()}
}

func fromSockaddr(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	return netip.AddrPort{}
}

func sockaddrAddrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa4.Port))[:]))
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:]))
	}
	return netip.AddrPort{}
}
