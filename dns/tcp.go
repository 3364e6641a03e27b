package dns

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
	"time"
)

const (
	// tcpIdle closes a connection that sends nothing for this long (RFC 7766 §6.2.3).
	tcpIdle = 10 * time.Second
	// tcpMaxConns bounds concurrent TCP clients; more are closed at once.
	tcpMaxConns = 1024
)

func (s *Server) serveTCP(ctx context.Context, ln *net.TCPListener) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	defer func() {
		mu.Lock()
		for c := range conns {
			_ = c.SetReadDeadline(time.Now()) // finish the query in hand, read no more
		}
		mu.Unlock()
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
		mu.Lock()
		if len(conns) >= tcpMaxConns {
			mu.Unlock()
			s.h.metrics.dropped.WithLabelValues("tcp_conn_limit").Inc()
			_ = c.Close()
			continue
		}
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
		}()
	}
}

// serveConn answers length-prefixed queries one after another until the client goes quiet,
// closes, or sends garbage.
func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	src := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	var lenBuf [2]byte
	req := make([]byte, 512)
	out := make([]byte, 2+65535)
	for {
		_ = c.SetReadDeadline(time.Now().Add(tcpIdle))
		if _, err := io.ReadFull(c, lenBuf[:]); err != nil {
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
		resp := s.h.Respond(out[2:], req, TCP, src)
		if len(resp) == 0 {
			return // nothing to say to a malformed stream
		}
		frame := out[:2+len(resp)]
		if &resp[0] != &out[2] {
			frame = append(make([]byte, 2, 2+len(resp)), resp...)
		}
		binary.BigEndian.PutUint16(frame, uint16(len(resp)))
		_ = c.SetWriteDeadline(time.Now().Add(tcpIdle))
		if _, err := c.Write(frame); err != nil {
			return
		}
	}
}
