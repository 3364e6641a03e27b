package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"

	"github.com/meridian-gslb/meridian/config"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// Server owns the DNS sockets: per address, UDP sockets sharing the port with SO_REUSEPORT (one
// per CPU by default, so the kernel spreads clients over cores) and one TCP listener.
type Server struct {
	h       *Handler
	log     *slog.Logger
	udp     []*udpConn
	tcp     []*net.TCPListener
	conns   tcpConns // the TCP connections open, and their limits (tcp.go)
	sockets int
	// The configured address of each socket, for Files; inherit gives Listen the sockets of
	// a process being replaced (handover.go).
	udpKeys, tcpKeys []string
	inherit          func(key string) *os.File
}

// NewServer prepares a server; sockets is UDP sockets per address, 0 meaning one per CPU.
func NewServer(h *Handler, log *slog.Logger, sockets int) *Server {
	if sockets <= 0 {
		sockets = runtime.GOMAXPROCS(0)
	}
	s := &Server{h: h, log: log.With("component", "dns"), sockets: sockets}
	s.SetTCPLimits(config.TCPLimits{})
	return s
}

// Listen binds every socket for addrs, so that errors surface before serving starts. Port 0
// picks one free port per address, shared by its UDP and TCP sockets.
func (s *Server) Listen(ctx context.Context, addrs []netip.AddrPort) error {
	for _, a := range addrs {
		udp, tcp, err := s.listenAddr(ctx, a)
		for try := 0; err != nil && a.Port() == 0 && errors.Is(err, syscall.EADDRINUSE) && try < 20; try++ {
			// The port the kernel picked for UDP is taken for TCP (by some connection's
			// ephemeral port, say): pick again.
			udp, tcp, err = s.listenAddr(ctx, a)
		}
		if err != nil {
			s.Close()
			return err
		}
		s.udp = append(s.udp, udp...)
		s.tcp = append(s.tcp, tcp)
		for range udp {
			s.udpKeys = append(s.udpKeys, a.String())
		}
		s.tcpKeys = append(s.tcpKeys, a.String())
	}
	// The kernel's default receive buffer (rmem_default) is kept: it holds over a thousand
	// queued queries, and a 4 MiB buffer measured ~6% more CPU per query under load.
	return nil
}

// listenAddr binds the UDP sockets and the TCP listener of one address; on error it closes
// what it bound.
func (s *Server) listenAddr(ctx context.Context, a netip.AddrPort) ([]*udpConn, *net.TCPListener, error) {
	var udp []*udpConn
	closeUDP := func() {
		for _, c := range udp {
			_ = c.Close()
		}
	}
	key := a.String() // as configured: what a replacement asks for (handover.go)
	for i := range s.sockets {
		c, err := s.inheritedUDP(key)
		if err == nil && c == nil {
			c, err = listenUDP(ctx, a)
		}
		if err != nil {
			closeUDP()
			return nil, nil, fmt.Errorf("listen udp %s: %w", a, err)
		}
		udp = append(udp, c)
		if i == 0 {
			a = c.LocalAddr() // port 0: the rest share the port the first one got
		}
	}
	for s.inherit != nil { // fewer sockets than the process handing over had: close the rest
		f := s.inherit("udp " + key)
		if f == nil {
			break
		}
		_ = f.Close()
	}
	ln, err := s.inheritedTCP(key)
	if err == nil && ln == nil {
		lc := net.ListenConfig{Control: socketOptions}
		var l net.Listener
		if l, err = lc.Listen(ctx, "tcp", a.String()); err == nil {
			ln = l.(*net.TCPListener)
		}
	}
	if err != nil {
		closeUDP()
		return nil, nil, fmt.Errorf("listen tcp %s: %w", a, err)
	}
	return udp, ln, nil
}

// Addrs returns the bound addresses, one per configured address (UDP and TCP share it).
func (s *Server) Addrs() []netip.AddrPort {
	var out []netip.AddrPort
	for _, ln := range s.tcp {
		out = append(out, ln.Addr().(*net.TCPAddr).AddrPort())
	}
	return out
}

// HeldProcs is how many Go Ps the UDP readers hold while Run runs: a reader sleeps in the
// kernel in a raw system call and keeps its P (udp_linux.go), so whoever runs the server gives
// the process that many more GOMAXPROCS (a node does it for all its parts at once).
func (s *Server) HeldProcs() int {
	if udpReaderHoldsP {
		return len(s.udp)
	}
	return 0
}

// Run serves until ctx is done, then closes the sockets and waits for in-flight TCP queries.
// The caller has raised GOMAXPROCS by HeldProcs.
func (s *Server) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, c := range s.udp {
		g.Go(func() error { return s.serveUDP(c) })
	}
	for _, ln := range s.tcp {
		g.Go(func() error { return s.serveTCP(ctx, ln) })
	}
	g.Go(func() error { s.h.RunNotify(ctx, s.Addrs()); return nil })
	for _, a := range s.Addrs() {
		s.log.Info("dns listening", "addr", a, "udp_sockets", s.sockets)
	}
	<-ctx.Done()
	s.Close()
	return g.Wait()
}

// Close closes every socket; Run's loops then return.
func (s *Server) Close() {
	for _, c := range s.udp {
		_ = c.Close()
	}
	for _, ln := range s.tcp {
		_ = ln.Close()
	}
}

// socketOptions prepares every DNS socket: SO_REUSEPORT so sockets share a port. UDP replies
// never use path-MTU discovery (PMTUDISC_OMIT: no DF bit, and forged ICMP "fragmentation
// needed" cannot shrink our replies to fragments, the DNS flag day 2020 advice); IPv6 replies
// fragment at the minimum MTU of 1280 rather than waiting for PMTU; and replies ask for low-delay
// forwarding. Only SO_REUSEPORT is required; the rest are best effort.
func socketOptions(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) { serr = setSocketOptions(int(fd), network) })
	return errors.Join(err, serr)
}

func setSocketOptions(s int, network string) error {
	err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	switch network {
	case "udp4":
		if unix.SetsockoptInt(s, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_OMIT) != nil {
			_ = unix.SetsockoptInt(s, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DONT)
		}
		_ = unix.SetsockoptInt(s, unix.IPPROTO_IP, unix.IP_TOS, iptosLowDelay)
	case "udp6":
		if unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_OMIT) != nil {
			_ = unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DONT)
		}
		_ = unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_MTU, 1280)
		_ = unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, iptosLowDelay)
	}
	return err
}

func isClosed(err error) bool { return errors.Is(err, net.ErrClosed) }

// iptosLowDelay is IPTOS_LOWDELAY (RFC 1349), which x/sys/unix does not name.
const iptosLowDelay = 0x10
