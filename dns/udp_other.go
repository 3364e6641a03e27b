//go:build !linux

package dns

import (
	"context"
	"net"
	"net/netip"
	"os"
)

// udpReaderHoldsP: readers here go through the netpoller and give their P back while they wait.
const udpReaderHoldsP = false

// udpConn is the portable socket: a net.UDPConn read one datagram per system call.
type udpConn struct{ *net.UDPConn }

func listenUDP(ctx context.Context, a netip.AddrPort) (*udpConn, error) {
	lc := net.ListenConfig{Control: socketOptions}
	pc, err := lc.ListenPacket(ctx, "udp", a.String())
	if err != nil {
		return nil, err
	}
	return &udpConn{pc.(*net.UDPConn)}, nil
}

func (u *udpConn) share() {}

func (u *udpConn) file() (*os.File, error) { return u.UDPConn.File() }

func udpFromFile(f *os.File) (*udpConn, error) {
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return nil, err
	}
	return &udpConn{pc.(*net.UDPConn)}, nil
}

func (u *udpConn) LocalAddr() netip.AddrPort { return u.UDPConn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (s *Server) serveUDP(c *udpConn) error {
	in := make([]byte, 4096)
	out := make([]byte, 4096)
	for {
		n, src, err := c.ReadFromUDPAddrPort(in)
		if err != nil {
			if isClosed(err) {
				return nil
			}
			return err
		}
		if resp := s.h.Respond(out, in[:n], UDP, src); len(resp) > 0 {
			_, _ = c.WriteToUDPAddrPort(resp, src)
		}
	}
}
