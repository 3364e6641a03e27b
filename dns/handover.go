package dns

import (
	"errors"
	"fmt"
	"net"
	"os"
)

// A replacement process (meridian replace) takes the sockets of the running one over: the
// same sockets, passed as file descriptors, so no datagram queued in them is lost and no
// connection attempt is refused while the two processes hand over.

// Files returns a duplicate of every socket, keyed "udp ADDR" (one entry per UDP socket) and
// "tcp ADDR", ADDR as the config gave it, for the process taking over. From then on Close
// leaves the sockets open for the other process: it only stops this one's readers.
func (s *Server) Files() (keys []string, files []*os.File, err error) {
	for i, c := range s.udp {
		f, err := c.file()
		if err != nil {
			closeFiles(files)
			return nil, nil, fmt.Errorf("udp socket %s: %w", c.LocalAddr(), err)
		}
		keys, files = append(keys, "udp "+s.udpKeys[i]), append(files, f)
	}
	for i, ln := range s.tcp {
		f, err := ln.File()
		if err != nil {
			closeFiles(files)
			return nil, nil, fmt.Errorf("tcp listener %s: %w", ln.Addr(), err)
		}
		keys, files = append(keys, "tcp "+s.tcpKeys[i]), append(files, f)
	}
	for _, c := range s.udp {
		c.share()
	}
	return keys, files, nil
}

// Inherit makes Listen take sockets from take(key) (keys as Files gives them) before binding
// new ones: take returns nil when it has none left for key.
func (s *Server) Inherit(take func(key string) *os.File) { s.inherit = take }

// inherited is the UDP socket or TCP listener take has for key, or nil.
func (s *Server) inheritedUDP(key string) (*udpConn, error) {
	if s.inherit == nil {
		return nil, nil
	}
	f := s.inherit("udp " + key)
	if f == nil {
		return nil, nil
	}
	defer f.Close()
	return udpFromFile(f)
}

func (s *Server) inheritedTCP(key string) (*net.TCPListener, error) {
	if s.inherit == nil {
		return nil, nil
	}
	f := s.inherit("tcp " + key)
	if f == nil {
		return nil, nil
	}
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, err
	}
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		ln.Close()
		return nil, errors.New("inherited socket is not a TCP listener")
	}
	return tl, nil
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		_ = f.Close()
	}
}
