package l7

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// tunnel relays bytes both ways between the client and bc after a 101 response, until
// both sides have finished or neither has sent anything for WebSocketIdleTimeout. It is
// the one place the engine uses a second goroutine per connection. Neither connection is
// closed here (the caller closes them), so the client's can still be observed.
func (c *clientConn) tunnel(bc *backendConn) {
	t := &tunnel{idle: c.s.o.WebSocketIdleTimeout, conns: [2]net.Conn{c.nc, bc.nc}}
	c.nc.SetDeadline(time.Time{})
	bc.nc.SetDeadline(time.Time{})
	t.last.Store(time.Now().UnixNano())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.relay(bc.nc, c.br, c.nc) // client → backend
	}()
	t.relay(c.nc, bc.br, bc.nc) // backend → client
	<-done
}

type tunnel struct {
	idle  time.Duration
	conns [2]net.Conn
	last  atomic.Int64 // unix nanoseconds of the last byte either way
	stop  atomic.Bool
}

// relay copies src (read from srcConn through a bufio.Reader that may already hold bytes)
// to dst. At the end of src it half-closes dst; on an error or an idle timeout it stops
// the other direction too.
func (t *tunnel) relay(dst net.Conn, src *bufio.Reader, srcConn net.Conn) {
	buf := make([]byte, 32<<10)
	for !t.stop.Load() {
		srcConn.SetReadDeadline(time.Now().Add(t.idle))
		n, err := src.Read(buf)
		if n > 0 {
			t.last.Store(time.Now().UnixNano())
			dst.SetWriteDeadline(time.Now().Add(t.idle))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, os.ErrDeadlineExceeded) && !t.stop.Load() &&
			time.Since(time.Unix(0, t.last.Load())) < t.idle:
			continue // the other direction is busy
		case errors.Is(err, io.EOF):
			if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
				return
			}
		}
		break
	}
	t.stop.Store(true)
	past := time.Unix(1, 0)
	for _, c := range t.conns {
		c.SetDeadline(past)
	}
}
