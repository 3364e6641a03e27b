package web

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Limits bound what HTTP clients can hold of a node: its goroutines and open files, which it
// shares with DNS. Zero fields take DefaultLimits' values.
type Limits struct {
	// ReadTimeout bounds reading a whole request, body included (a slow body is cut off).
	ReadTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that sends no request for that long.
	IdleTimeout time.Duration
	// MaxConns caps the open connections; MaxConnsPerClient those of one client address.
	MaxConns, MaxConnsPerClient int
}

// DefaultLimits are the limits a node runs with.
func DefaultLimits() Limits {
	return Limits{ReadTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second, MaxConns: 1024, MaxConnsPerClient: 64}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = d.ReadTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.MaxConns <= 0 {
		l.MaxConns = d.MaxConns
	}
	if l.MaxConnsPerClient <= 0 {
		l.MaxConnsPerClient = d.MaxConnsPerClient
	}
	return l
}

// limitListener closes, as soon as they are accepted, connections over its caps.
type limitListener struct {
	net.Listener
	max, perClient int
	rejected       *prometheus.CounterVec // meridian_http_rejected_connections_total{reason}

	mu     sync.Mutex
	open   int
	byAddr map[netip.Addr]int
}

func newLimitListener(ln net.Listener, l Limits, rejected *prometheus.CounterVec) *limitListener {
	return &limitListener{Listener: ln, max: l.MaxConns, perClient: l.MaxConnsPerClient, rejected: rejected, byAddr: map[netip.Addr]int{}}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		var addr netip.Addr
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			addr = ta.AddrPort().Addr().Unmap()
		}
		if reason := l.take(addr); reason != "" {
			l.rejected.WithLabelValues(reason).Inc()
			c.Close()
			continue
		}
		return &limitedConn{Conn: c, release: func() { l.release(addr) }}, nil
	}
}

// take counts a new connection from addr in, or says which cap it is over.
func (l *limitListener) take(addr netip.Addr) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.open >= l.max:
		return "total"
	case l.byAddr[addr] >= l.perClient:
		return "per_client"
	}
	l.open++
	l.byAddr[addr]++
	return ""
}

func (l *limitListener) release(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
		delete(l.byAddr, addr)
	}
}

// limitedConn gives its place back once, at the first Close.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite sends a FIN while the connection stays open for reading, as net/http does before
// closing a connection whose client may still be sending.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
