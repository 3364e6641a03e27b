package l4

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-gslb/meridian/proxy/balance"
	"github.com/meridian-gslb/meridian/proxy/spill"
)

// conn is one proxied client connection and its backend connection.
type conn struct {
	s       *Server
	client  *net.TCPConn // the Go conns; the epoll engine closes them at hand-off
	backend *net.TCPConn
	up      *balance.Upstream
	peer    net.Addr // the client's address, for logs

	in, out         atomic.Int64 // bytes copied from the client, and to it
	inSeen, outSeen atomic.Int64 // bytes already added to the metrics
	once            sync.Once

	// epoll engine: the loop that owns the connection's descriptors and their state there.
	l      *loop
	ep     relay
	killed atomic.Bool // abort asked the loop to close the connection

	// owned by the sweeper
	lastTotal  int64
	lastActive time.Time
}

// serveConn serves one accepted client connection: it connects to a backend, then either
// copies client to backend itself, with one more goroutine for backend to client (engine
// "go"), or hands both connections to an event loop and returns (engine "epoll").
func (s *Server) serveConn(hard context.Context, client *net.TCPConn) {
	handedOff := false
	defer func() {
		if !handedOff {
			s.connDone()
		}
	}()
	if s.m.active != nil {
		s.m.active.Inc()
	}
	backend, up, reason := s.connect(hard, client)
	if backend == nil {
		s.reject(client, reason)
		return
	}
	c := &conn{s: s, client: client, backend: backend, up: up, peer: client.RemoteAddr(), lastActive: time.Now()}
	if s.pp != 0 {
		if err := writeProxyHeader(backend, s.pp, c.peer, client.LocalAddr()); err != nil {
			s.log.Debug("proxy header failed", "backend", up.ID, "err", err)
			c.abort()
			up.Release()
			return
		}
	}
	if s.loops != nil {
		handedOff = s.handOff(c)
		return
	}
	defer up.Release()
	s.track(c, true)
	defer s.track(c, false)

	done := make(chan struct{})
	go func() {
		defer close(done)
		c.pipe(client, backend, &c.out)
	}()
	c.pipe(backend, client, &c.in)
	<-done
	c.finish()
}

// connDone is the end of a client connection, whichever engine served it.
func (s *Server) connDone() {
	if s.m.active != nil {
		s.m.active.Dec()
	}
	s.active.Add(-1)
	s.wg.Done()
}

// pipe copies src to dst until src ends, then half-closes dst. Any error other than a clean
// end of src aborts the whole connection, which also ends the other direction.
func (c *conn) pipe(dst, src *net.TCPConn, n *atomic.Int64) {
	err := c.s.copy(dst, src, n)
	if err == nil {
		err = dst.CloseWrite()
	}
	if err != nil {
		c.abort()
	}
}

// finish closes both sides after both directions ended and settles the metrics.
func (c *conn) finish() {
	c.abort()
	c.flush()
}

// abort closes both sides now, telling the feedback observer about the client first. It is
// safe to call more than once and from any goroutine. A connection in an event loop is
// closed by its loop, which alone may close its descriptors.
func (c *conn) abort() {
	if c.l != nil {
		if !c.killed.Swap(true) {
			c.l.kill(c)
		}
		return
	}
	c.once.Do(func() {
		c.backend.Close()
		if o := c.s.o.Feedback; o != nil {
			o.ObserveConn(c.client)
		}
		c.client.Close()
	})
}

// flush adds the bytes copied since the last flush to the metrics.
func (c *conn) flush() {
	m := &c.s.m
	if m.bytesIn == nil {
		return
	}
	flushCounter(&c.in, &c.inSeen, m.bytesIn.Add)
	flushCounter(&c.out, &c.outSeen, m.bytesOut.Add)
}

// flushCounter adds n's growth since seen to add; the sweeper and the connection may race
// here, so seen only moves forward and each byte is added once.
func flushCounter(n, seen *atomic.Int64, add func(float64)) {
	for {
		prev, cur := seen.Load(), n.Load()
		if cur <= prev {
			return
		}
		if seen.CompareAndSwap(prev, cur) {
			add(float64(cur - prev))
			return
		}
	}
}

// connect picks a backend and dials it, trying up to connectTries backends. It returns the
// connection and its acquired upstream, or nil and the reason the client is refused.
func (s *Server) connect(hard context.Context, client *net.TCPConn) (*net.TCPConn, *balance.Upstream, string) {
	p := s.pool.Load()
	key := ""
	if a, ok := client.RemoteAddr().(*net.TCPAddr); ok {
		key = a.IP.String()
	}
	var (
		tried  [connectTries]*balance.Upstream
		ntried int
		full   []*balance.Upstream // rare: backends at MaxConnsPerBackend
	)
	reason := "no_backend"
	for ntried < connectTries {
		u, acquired := s.pick(p, key, tried[:ntried], full), false
		if u == nil {
			if p.spill == nil {
				break
			}
			// None of our own backends can take it: the next region's pool, with the
			// same skip lists (a spill backend that failed is not tried again).
			skip := func(x *balance.Upstream) bool { return contains(tried[:ntried], x) || contains(full, x) }
			var why string
			if u, _, why = p.spill.Pick(key, skip, s.o.MaxConnsPerBackend, key); u == nil {
				if why == spill.Capped {
					reason = spill.Capped
				}
				break
			}
			acquired = true
		}
		if !acquired && !u.TryAcquire(s.o.MaxConnsPerBackend) {
			full = append(full, u)
			reason = "backend_max_conns"
			continue
		}
		tried[ntried] = u
		ntried++
		nc, err := s.dialer.DialContext(hard, "tcp", u.Addr)
		if err == nil {
			u.Succeeded()
			return nc.(*net.TCPConn), u, ""
		}
		u.Release()
		reason = "no_backend"
		if hard.Err() != nil {
			break
		}
		s.log.Warn("backend connect failed", "backend", u.ID, "err", err)
		if u.Failed(s.o.Outlier) {
			s.log.Info("backend ejected", "backend", u.ID)
			if s.o.Metrics != nil {
				s.o.Metrics.Ejections.WithLabelValues(s.o.Name, u.ID).Inc()
			}
		}
	}
	return nil, nil, reason
}

// pick asks the selector for a backend that is in neither skip list. The common case is one
// Select over the whole pool; only when it returns a skipped backend is the pool filtered.
func (s *Server) pick(p *pool, key string, tried, full []*balance.Upstream) *balance.Upstream {
	u := p.sel.Select(p.backends, key)
	if u == nil || !(contains(tried, u) || contains(full, u)) {
		return u
	}
	rest := make([]*balance.Upstream, 0, len(p.backends))
	for _, b := range p.backends {
		if !contains(tried, b) && !contains(full, b) {
			rest = append(rest, b)
		}
	}
	if len(rest) == 0 {
		return nil
	}
	return p.sel.Select(rest, key)
}

func contains(l []*balance.Upstream, u *balance.Upstream) bool {
	for _, x := range l {
		if x == u {
			return true
		}
	}
	return false
}
