package dns

import (
	"encoding/binary"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDP on Linux reads and writes in batches with recvmmsg/sendmmsg: one system call moves up
// to udpBatch datagrams each way, and no buffer is allocated per query.

const (
	udpBatch = 64
	udpBuf   = 4096 // queries larger than this are dropped; replies never exceed edns_buffer <= 4096
)

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

func (s *Server) serveUDP(c *net.UDPConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	r := newUDPRing()
	// The callbacks handed to RawConn escape to the heap, so they are built once per socket
	// rather than per batch: the loop itself allocates nothing.
	//
	// Both calls use MSG_DONTWAIT and so never block; RawSyscall6 skips the scheduler's
	// syscall bookkeeping. With Syscall6, a sendmmsg of a large batch outlasts sysmon's 20 µs
	// and the P is handed to another thread, then must be won back when the call returns:
	// measured A/B at 71k q/s, raw calls cut CPU per query from 5.5–5.9 to 4.8 µs and p90
	// latency from 264–449 to 173–183 µs. The cost is that a stop-the-world waits for at most
	// one batch's system call.
	var (
		n, m, sent int
		errno      unix.Errno
	)
	recv := func(fd uintptr) bool {
		got, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.recv[0])), udpBatch, unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		n, errno = int(got), e
		return true
	}
	send := func(fd uintptr) bool {
		got, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&r.send[sent])), uintptr(m-sent), unix.MSG_DONTWAIT, 0, 0)
		switch {
		case e == unix.EAGAIN || e == unix.EINTR:
			return false
		case e != 0:
			s.log.Debug("sendmmsg", "err", e)
			s.h.metrics.dropped.WithLabelValues("send_error").Inc()
			sent++ // the first message failed: skip it
		default:
			sent += int(got)
		}
		return true
	}
	for {
		for i := range r.recv {
			r.recv[i].Hdr.Namelen = unix.SizeofSockaddrInet6
			r.recv[i].Hdr.Flags = 0
		}
		err := rc.Read(recv)
		switch {
		case err != nil && isClosed(err):
			return nil
		case err != nil:
			return err
		case errno != 0:
			s.log.Warn("recvmmsg", "err", errno)
			continue
		}
		m = 0
		for i := range n {
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
		// Write every reply; a reply the kernel rejects is skipped.
		for sent = 0; sent < m; {
			if err := rc.Write(send); err != nil {
				if isClosed(err) {
					return nil
				}
				return err
			}
		}
	}
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
