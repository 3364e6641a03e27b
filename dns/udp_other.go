//go:build !linux

package dns

import "net"

// serveUDP is the portable loop: one datagram per system call.
func (s *Server) serveUDP(c *net.UDPConn) error {
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
