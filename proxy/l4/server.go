package l4

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-gslb/meridian/proxy/balance"
	"github.com/meridian-gslb/meridian/proxy/spill"
	"github.com/meridian-gslb/meridian/proxy/stats"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for zero Options fields.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultIdleTimeout    = 5 * time.Minute
	DefaultDrainTimeout   = 30 * time.Second
)

// connectTries is how many backends one client connection may try: the first plus 2 more.
const connectTries = 3

// Options configure one TCP listener.
type Options struct {
	Name     string // the listener's name ([proxy.NAME]): metrics label, log attribute
	Listen   string // host:port (port 0 ok: see Addr)
	Backends []*balance.Upstream
	Selector balance.Selector // keyed selectors get the client IP (no port) as key; nil: round robin
	// Spill takes the connections none of Backends can take (all unavailable, at their limit,
	// or failing to connect); nil: none.
	Spill *spill.Spill
	// ProxyProtocol is "", "v1" or "v2": send a PROXY protocol header to the backend first.
	ProxyProtocol string
	// MaxConns caps client connections at once; 0: none. Over it a connection is accepted and
	// closed at once (stats Rejected "max_conns").
	MaxConns int
	// MaxConnsPerBackend caps connections per backend; 0: none. A full backend is skipped;
	// when none is left the client is closed (Rejected "backend_max_conns").
	MaxConnsPerBackend int64
	// ConnectTimeout bounds each backend connect (0: 5s); on failure another backend is tried,
	// at most 2 more.
	ConnectTimeout time.Duration
	// IdleTimeout closes both sides after no byte either way for this long (0: 5m).
	IdleTimeout time.Duration
	// DrainTimeout is how long connections may outlive their backend's draining, or the
	// listener's shutdown (0: 30s).
	DrainTimeout time.Duration
	// Outlier gets connect failures (Failed) and successful connects (Succeeded); nil: none.
	Outlier  *balance.Outlier
	Feedback ConnObserver
	Metrics  *stats.Metrics
	Logger   *slog.Logger
	// Engine is the data path once both ends are connected: "epoll" (Linux only, the default
	// there) runs the bytes through the listener's event loops; "go" copies each direction in
	// its own goroutine through Go's netpoller (the default elsewhere).
	Engine string
	// Loops is the number of event loops of the epoll engine (0: 1). A loop is one OS thread,
	// so one core's worth of forwarding; connections are spread over the loops round robin.
	// A loop sleeps in epoll_wait as a raw system call and keeps its Go P meanwhile (as the
	// DNS server's UDP readers do): give the process Loops() more GOMAXPROCS than it would
	// otherwise have (meridian serve and meridian proxy do), or accepting, dialling and the
	// rest of the process wait for the loops.
	Loops int
}

// ConnObserver is told about each accepted client connection once, just before it is closed,
// when the kernel's TCP_INFO has the most to say about the client's round-trip time.
//
// With the epoll engine it is called from the connection's event loop (keep it quick), on a
// *net.TCPConn made for the call over the same socket, when the client's traffic is over: its
// FIN came, ours is about to go, or the connection is being closed. A client that reset the
// connection has lost its peer address by then and is not observed.
type ConnObserver interface{ ObserveConn(c *net.TCPConn) }

// Server is one L4 listener. Create it with New; Serve runs it until its context ends.
type Server struct {
	o   Options
	log *slog.Logger
	pp  byte // 0, 1 or 2: PROXY protocol version

	dialer net.Dialer
	pool   atomic.Pointer[pool]
	bufs   sync.Pool // *[]byte, copyBuf bytes

	ln     *net.TCPListener
	active atomic.Int64 // client connections being served (for MaxConns)

	mu      sync.Mutex
	conns   map[*conn]struct{} // connections with a backend, for the sweeper and shutdown
	closing bool               // shutdown's drain timeout passed: connections end at once
	wg      sync.WaitGroup     // connection goroutines

	m metrics

	loops    []*loop       // the epoll engine's event loops, while Serve runs; nil for "go"
	nextLoop atomic.Uint32 // round robin over loops

	spliceOnly bool // tests and benchmarks: always splice, never read/write
	spliced    atomic.Int64
	stalls     atomic.Int64 // epoll engine: writes that did not take all the bytes
	held       atomic.Int64 // epoll engine: bytes waiting in stall buffers
}

// pool is the backend set and its selector, swapped as one on reload.
type pool struct {
	backends []*balance.Upstream
	sel      balance.Selector
	spill    *spill.Spill // nil: none
}

// metrics are the listener's children of the shared vectors, resolved once; nil fields when
// Options.Metrics is nil.
type metrics struct {
	connections, bytesIn, bytesOut prometheus.Counter
	active                         prometheus.Gauge
}

// New checks o and returns a Server that is not yet listening.
func New(o Options) (*Server, error) {
	if o.Listen == "" {
		return nil, errors.New("l4: no listen address")
	}
	s := &Server{o: o, conns: make(map[*conn]struct{})}
	switch o.ProxyProtocol {
	case "":
	case "v1":
		s.pp = 1
	case "v2":
		s.pp = 2
	default:
		return nil, fmt.Errorf("l4: proxy protocol %q: want \"\", \"v1\" or \"v2\"", o.ProxyProtocol)
	}
	switch o.Engine {
	case "":
		s.o.Engine = defaultEngine
	case "go":
	case "epoll":
		if !epollSupported {
			return nil, errors.New("l4: engine \"epoll\" needs Linux")
		}
	default:
		return nil, fmt.Errorf("l4: engine %q: want \"\", \"epoll\" or \"go\"", o.Engine)
	}
	if o.Loops < 0 {
		return nil, fmt.Errorf("l4: loops %d: want 0 or more", o.Loops)
	}
	s.o.Loops = max(o.Loops, 1)
	if s.o.ConnectTimeout <= 0 {
		s.o.ConnectTimeout = DefaultConnectTimeout
	}
	if s.o.IdleTimeout <= 0 {
		s.o.IdleTimeout = DefaultIdleTimeout
	}
	if s.o.DrainTimeout <= 0 {
		s.o.DrainTimeout = DefaultDrainTimeout
	}
	s.dialer.Timeout = s.o.ConnectTimeout
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s.log = log.With("component", "l4", "listener", o.Name)
	s.bufs.New = func() any { b := make([]byte, copyBuf); return &b }
	if m := o.Metrics; m != nil {
		s.m = metrics{
			connections: m.Connections.WithLabelValues(o.Name),
			bytesIn:     m.Bytes.WithLabelValues(o.Name, "in"),
			bytesOut:    m.Bytes.WithLabelValues(o.Name, "out"),
			active:      m.Active.WithLabelValues(o.Name),
		}
	}
	s.SetPool(o.Backends, o.Selector, o.Spill)
	return s, nil
}

// SetBackends swaps the backend set and selector at once; connections already made stay on
// their backends. A nil selector means round robin.
func (s *Server) SetBackends(b []*balance.Upstream, sel balance.Selector) { s.SetPool(b, sel, nil) }

// SetPool swaps the backend set, selector and spill (nil: none) at once, as SetBackends.
func (s *Server) SetPool(b []*balance.Upstream, sel balance.Selector, sp *spill.Spill) {
	if sel == nil {
		sel = new(balance.RoundRobin)
	}
	s.pool.Store(&pool{backends: b, sel: sel, spill: sp})
}

// Listen binds the listen address. Serve calls it when it has not been called.
func (s *Server) Listen() error {
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.o.Listen)
	if err != nil {
		return fmt.Errorf("l4 %s: listen %s: %w", s.o.Name, s.o.Listen, err)
	}
	s.ln = ln.(*net.TCPListener)
	return nil
}

// ListenOn serves on ln, a listener already bound (one a replaced process handed over),
// instead of binding Options.Listen. Call it before Listen and Serve.
func (s *Server) ListenOn(ln *net.TCPListener) { s.ln = ln }

// File is a duplicate of the listening socket (after Listen), for a process taking over.
func (s *Server) File() (*os.File, error) { return s.ln.File() }

// Addr is the bound address, nil before Listen.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Loops is how many event loops Serve runs, each holding a P while it waits: 0 for the go
// engine.
func (s *Server) Loops() int {
	if s.o.Engine != "epoll" {
		return 0
	}
	return s.o.Loops
}

// Serve accepts connections until ctx is done, then stops accepting at once, lets open
// connections finish for up to DrainTimeout, closes what is left and returns.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	if s.o.Engine == "epoll" {
		if err := s.startLoops(); err != nil {
			s.ln.Close()
			return fmt.Errorf("l4 %s: %w", s.o.Name, err)
		}
		defer s.stopLoops()
	}
	// hard ends dials and the sweeper; it outlives ctx by the shutdown grace.
	hard, cancelHard := context.WithCancel(context.Background())
	defer cancelHard()
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		s.sweep(hard)
	}()
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()
	s.log.Info("listening", "addr", s.ln.Addr().String(), "engine", s.o.Engine, "loops", len(s.loops))

	err := s.accept(hard)
	if ctx.Err() == nil {
		s.log.Error("accept failed", "err", err)
	} else {
		err = nil
	}
	s.shutdown(cancelHard)
	<-sweepDone
	return err
}

// accept runs the accept loop until the listener is closed or fails for good.
func (s *Server) accept(hard context.Context) error {
	var backoff time.Duration
	for {
		c, err := s.ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "delay", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("l4 %s: accept: %w", s.o.Name, err)
		}
		backoff = 0
		if s.m.connections != nil {
			s.m.connections.Inc()
		}
		if n := s.active.Add(1); s.o.MaxConns > 0 && n > int64(s.o.MaxConns) {
			s.active.Add(-1)
			s.reject(c, "max_conns")
			continue
		}
		s.wg.Add(1)
		go s.serveConn(hard, c)
	}
}

// shutdown waits for connections up to DrainTimeout, then ends the rest.
func (s *Server) shutdown(cancelHard context.CancelFunc) {
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(s.o.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.mu.Lock()
		s.closing = true
		n := len(s.conns)
		for c := range s.conns {
			c.abort()
		}
		s.mu.Unlock()
		s.log.Info("drain timeout; closed connections", "count", n)
	}
	cancelHard() // ends dials still running
	<-done
}

// reject counts and closes a client connection that will not be served.
func (s *Server) reject(c *net.TCPConn, reason string) {
	if s.o.Metrics != nil {
		s.o.Metrics.Rejected.WithLabelValues(s.o.Name, reason).Inc()
	}
	s.log.Debug("connection rejected", "client", c.RemoteAddr().String(), "reason", reason)
	if s.o.Feedback != nil {
		s.o.Feedback.ObserveConn(c)
	}
	c.Close()
}

// track adds or removes c from the set the sweeper and shutdown walk. A connection whose
// backend answered only after shutdown gave up waiting is ended at once.
func (s *Server) track(c *conn, on bool) {
	s.mu.Lock()
	if on {
		s.conns[c] = struct{}{}
		if s.closing {
			c.abort()
		}
	} else {
		delete(s.conns, c)
	}
	s.mu.Unlock()
}

// isTemporary reports accept errors worth retrying (EMFILE, ENFILE, ECONNABORTED...).
func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}
