package dns

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/meridian-gslb/meridian/config"
)

// DefaultTCPLimits are the [server] tcp_* defaults.
func DefaultTCPLimits() config.TCPLimits {
	return config.TCPLimits{MaxConns: 1024, MaxConnsPerClient: 16, IdleTimeout: 10 * time.Second, QueryTimeout: 2 * time.Second}
}

// SetTCPLimits replaces DefaultTCPLimits (zero fields keep the defaults); call it before Run.
func (s *Server) SetTCPLimits(l config.TCPLimits) {
	d := DefaultTCPLimits()
	if l.MaxConns > 0 {
		d.MaxConns = l.MaxConns
	}
	if l.MaxConnsPerClient > 0 {
		d.MaxConnsPerClient = l.MaxConnsPerClient
	}
	if l.IdleTimeout > 0 {
		d.IdleTimeout = l.IdleTimeout
	}
	if l.QueryTimeout > 0 {
		d.QueryTimeout = l.QueryTimeout
	}
	s.conns.limits = d
	s.h.tcpIdle.Store(int64(d.IdleTimeout))
}

// tcpConns is the TCP listeners' bookkeeping: every open connection, and how many each client
// address holds.
type tcpConns struct {
	limits   config.TCPLimits
	mu       sync.Mutex
	open     map[net.Conn]struct{}
	byClient map[netip.Addr]int
}

// admit takes c if the limits allow it, else says which one it breaks.
func (t *tcpConns) admit(c net.Conn, client netip.Addr) (ok bool, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case len(t.open) >= t.limits.MaxConns:
		return false, "tcp_conn_limit"
	case t.byClient[client] >= t.limits.MaxConnsPerClient:
		return false, "tcp_client_limit"
	}
	if t.open == nil {
		t.open, t.byClient = map[net.Conn]struct{}{}, map[netip.Addr]int{}
	}
	t.open[c] = struct{}{}
	t.byClient[client]++
	return true, ""
}

func (t *tcpConns) release(c net.Conn, client netip.Addr) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.open, c)
	if t.byClient[client]--; t.byClient[client] <= 0 {
		delete(t.byClient, client)
	}
}

// stop makes every open connection finish the query in hand and read no more.
func (t *tcpConns) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.open {
		_ = c.SetReadDeadline(time.Now())
	}
}

func (s *Server) serveTCP(ctx context.Context, ln *net.TCPListener) error {
	var wg sync.WaitGroup
	defer func() {
		s.conns.stop()
		wg.Wait()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if isClosed(err) || ctx.Err() != nil {
				return nil
			}
			s.log.Warn("tcp accept", "err", err)
			continue
		}
		client := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
		if ok, reason := s.conns.admit(c, client); !ok {
			s.h.metrics.dropped.WithLabelValues(reason).Inc()
			_ = c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.conns.release(c, client)
			s.serveConn(c)
		}()
	}
}

// serveConn answers length-prefixed queries in the order they come (pipelined ones too), until
// the client is quiet for the idle timeout, closes, sends garbage, or takes longer than the
// query timeout from a query's first byte to its last.
func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	src := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	idle, whole := s.conns.limits.IdleTimeout, s.conns.limits.QueryTimeout
	var lenBuf [2]byte
	req := make([]byte, 512)
	out := make([]byte, 2+65535)
	for {
		_ = c.SetReadDeadline(time.Now().Add(idle))
		if _, err := io.ReadFull(c, lenBuf[:1]); err != nil {
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(whole)) // the rest of this query, all of it
		if _, err := io.ReadFull(c, lenBuf[1:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(lenBuf[:]))
		if n > cap(req) {
			req = make([]byte, n)
		}
		req = req[:n]
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		if isTransfer(req) {
			if !s.h.serveTransfer(c, req, src) {
				return
			}
			continue
		}
		resp := s.h.Respond(out[2:], req, TCP, src)
		if len(resp) == 0 {
			return // nothing to say to a malformed stream
		}
		frame := out[:2+len(resp)]
		if &resp[0] != &out[2] {
			frame = append(make([]byte, 2, 2+len(resp)), resp...)
		}
		binary.BigEndian.PutUint16(frame, uint16(len(resp)))
		_ = c.SetWriteDeadline(time.Now().Add(idle))
		if _, err := c.Write(frame); err != nil {
			return
		}
	}
}
