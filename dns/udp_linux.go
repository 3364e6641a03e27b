package dns

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// UDP on Linux reads and writes in batches with recvmmsg/sendmmsg: one system call moves up
// to udpBatch datagrams each way, and no buffer is allocated per query. The reader blocks in
// recvmmsg on its own duplicate of the socket in blocking mode (MSG_WAITFORONE: wait for one
// datagram, then take whatever else is queued), as gdnsd does, rather than parking in the
// netpoller between batches: under load that saves an epoll wait and a wake-up per batch.
// Close shuts the duplicate down, which wakes the blocked reader.

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

// blockingFD duplicates c's socket into a descriptor in blocking mode, registered for Close.
func (s *Server) blockingFD(c *net.UDPConn) (int, error) {
	f, err := c.File()
	if err != nil {
		return -1, err
	}
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return -1, err
	}
	// A bound on each wait, so a reader notices Close even if a wake-up were lost.
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 1})
	s.mu.Lock()
	s.fds = append(s.fds, fd)
	s.mu.Unlock()
	return fd, nil
}

func (s *Server) serveUDP(c *net.UDPConn) error {
	fd, err := s.blockingFD(c)
	if err != nil {
		return fmt.Errorf("udp socket: %w", err)
	}
	defer unix.Close(fd)
	r := newUDPRing()
	for {
		for i := range r.recv {
			r.recv[i].Hdr.Namelen = unix.SizeofSockaddrInet6
			r.recv[i].Hdr.Flags = 0
		}
		got, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&r.recv[0])), udpBatch, unix.MSG_WAITFORONE, 0, 0)
		if s.closing.Load() {
			return nil
		}
		switch errno {
		case 0:
		case unix.EAGAIN, unix.EINTR:
			continue
		default:
			s.log.Warn("recvmmsg", "err", errno)
			continue
		}
		n := int(got)
		m := 0
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
		s.sendBatch(fd, r, m)
	}
}

// sendBatch writes the first m prepared replies; a reply the kernel rejects is skipped.
func (s *Server) sendBatch(fd int, r *udpRing, m int) {
	for sent := 0; sent < m; {
		got, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&r.send[sent])), uintptr(m-sent), 0, 0, 0)
		switch e {
		case 0:
			sent += int(got)
		case unix.EINTR, unix.EAGAIN:
		default:
			if s.closing.Load() {
				return
			}
			s.log.Debug("sendmmsg", "err", e)
			s.h.metrics.dropped.WithLabelValues("send_error").Inc()
			sent++ // the first message failed: skip it
		}
	}
}

// wakeReaders shuts down the blocking duplicates so readers return from recvmmsg.
func (s *Server) wakeReaders() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fd := range s.fds {
		_ = unix.Shutdown(fd, unix.SHUT_RDWR)
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
