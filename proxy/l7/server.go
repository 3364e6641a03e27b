package l7

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

// Server is one HTTP listener. Build it with New; Listen (optional) then Serve.
type Server struct {
	o     Options
	m     *metrics
	lim   *limiter
	bufs  *bufPools
	table atomic.Pointer[table]

	poolMu sync.Mutex
	pools  map[*balance.Upstream]*connPool

	ln        net.Listener
	closing   atomic.Bool // shutting down: answers say Connection: close
	idleClose atomic.Bool // shutdown's idleGrace is over: idle client connections are closed
	connMu    sync.Mutex
	conns     map[*clientConn]struct{}
	nconns    atomic.Int64
	connWG    sync.WaitGroup

	engine   string        // "go" or "loop"
	loops    []*loop       // the loop engine's event loops, while Serve runs
	nextLoop atomic.Uint32 // round robin over loops

	certs atomic.Pointer[certSet] // TLS only
	tls   *tls.Config
	h2    *http.Server
	h2ln  *chanListener
	h2tr  *http.Transport
	h2fl  *h2flight
}

// New validates o and, for TLS, loads the certificates; the error names the file.
func New(o Options) (*Server, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("l7 listener %s: %w", o.Name, err)
	}
	s := &Server{
		o:     o,
		m:     newMetrics(o.Metrics, o.Name),
		lim:   newLimiter(o.RateLimit),
		bufs:  newBufPools(),
		pools: make(map[*balance.Upstream]*connPool),
		conns: make(map[*clientConn]struct{}),
	}
	s.engine = "go"
	if (o.Engine == "loop" || o.Engine == "" && loopSupported) && o.TLS == nil {
		s.engine = "loop"
	}
	s.o.Loops = max(o.Loops, 1)
	if o.Outlier != nil {
		out := *o.Outlier
		prev := out.OnEject
		out.OnEject = func(u *balance.Upstream, d time.Duration) {
			s.m.ejected(u.ID)
			s.o.Logger.Info("backend ejected", "backend", u.ID, "for", d)
			if prev != nil {
				prev(u, d)
			}
		}
		s.o.Outlier = &out
	}
	if o.TLS != nil {
		cs, err := loadCerts(o.TLS.Certs)
		if err != nil {
			return nil, fmt.Errorf("l7 listener %s: %w", o.Name, err)
		}
		s.certs.Store(cs)
		s.initTLS()
	}
	s.SetRoutes(o.Routes)
	return s, nil
}

// SetRoutes replaces the routes at once; requests already routed keep theirs. Connection
// pools are kept for backends that stay (by *Upstream) and closed for the others.
func (s *Server) SetRoutes(routes []*Route) {
	s.poolMu.Lock()
	defer s.poolMu.Unlock()
	used := make(map[*balance.Upstream]bool)
	poolFor := func(u *balance.Upstream) *connPool {
		used[u] = true
		p := s.pools[u]
		if p == nil {
			p = newConnPool(u)
			s.pools[u] = p
		}
		return p
	}
	t := &table{}
	for _, r := range routes {
		if r != nil && r.Selector != nil {
			t.routes = append(t.routes, compileRoute(r, poolFor))
		}
	}
	s.table.Store(t)
	for u, p := range s.pools {
		if !used[u] {
			p.close(false)
			delete(s.pools, u)
		}
	}
}

// Engine is the engine serving HTTP/1.1: "go" or "loop" (a TLS listener always runs "go").
func (s *Server) Engine() string { return s.engine }

// Loops is how many event loops Serve runs, each holding a P while it waits: 0 unless the
// loop engine runs. Whoever sets GOMAXPROCS adds it.
func (s *Server) Loops() int {
	if s.engine != "loop" {
		return 0
	}
	return s.o.Loops
}

// Listen binds the listening socket; after it Addr is the bound address.
func (s *Server) Listen() error {
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.o.Listen)
	if err != nil {
		return fmt.Errorf("l7 listener %s: %w", s.o.Name, err)
	}
	s.ln = ln
	return nil
}

// ListenOn serves on ln, a listener already bound (one a replaced process handed over),
// instead of binding Options.Listen. Call it before Listen and Serve.
func (s *Server) ListenOn(ln *net.TCPListener) { s.ln = ln }

// File is a duplicate of the listening socket (after Listen), for a process taking over.
func (s *Server) File() (*os.File, error) {
	tl, ok := s.ln.(*net.TCPListener)
	if !ok {
		return nil, fmt.Errorf("l7 listener %s: not a TCP socket", s.o.Name)
	}
	return tl.File()
}

// Addr is the bound address (nil before Listen).
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve accepts connections until ctx is done, then stops accepting, lets requests in
// flight finish for up to DrainTimeout, closes everything and returns.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	if s.engine == "loop" {
		if err := s.startLoops(); err != nil {
			return fmt.Errorf("l7 listener %s: %w", s.o.Name, err)
		}
		defer s.stopLoops()
	}
	s.o.Logger.Info("listening", "addr", s.ln.Addr().String(), "tls", s.o.TLS != nil, "engine", s.engine)
	var bg sync.WaitGroup
	if s.h2 != nil {
		bg.Go(func() { _ = s.h2.Serve(s.h2ln) })
	}
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	bg.Go(func() { s.sweepLoop(sweepCtx) })
	acceptErr := make(chan error, 1)
	go func() { acceptErr <- s.acceptLoop() }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-acceptErr:
	}
	s.shutdown()
	if err == nil {
		<-acceptErr
	}
	stopSweep()
	bg.Wait()
	return err
}

func (s *Server) acceptLoop() error {
	var delay time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.o.Logger.Warn("accept failed; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("l7 listener %s: accept: %w", s.o.Name, err)
		}
		delay = 0
		tcp, _ := nc.(*net.TCPConn)
		s.m.connOpened()
		if s.o.MaxConns > 0 && s.nconns.Load() >= int64(s.o.MaxConns) {
			s.m.rejected(rejMaxConns)
			s.closeClient(nc, tcp)
			continue
		}
		s.nconns.Add(1)
		s.connWG.Add(1)
		if s.loops != nil && tcp != nil && s.handOff(tcp) {
			continue
		}
		go s.serveConn(nc, tcp)
	}
}

// closeClient reports a client connection to the observer and closes it.
func (s *Server) closeClient(nc net.Conn, tcp *net.TCPConn) {
	if s.o.Feedback != nil && tcp != nil {
		s.o.Feedback.ObserveConn(tcp)
	}
	nc.Close()
	s.m.connClosed()
}

// idleGrace is how long shutdown leaves idle keep-alive connections open: a client whose
// next request is on its way gets its answer, marked Connection: close, instead of a closed
// connection it would report as an error (a replace under load fails no request).
const idleGrace = 250 * time.Millisecond

// shutdown stops accepting, answers every request from now on with Connection: close, waits up
// to DrainTimeout for the connections busy with a request (idle ones get idleGrace to send one),
// then closes all of them and every backend connection.
func (s *Server) shutdown() {
	s.closing.Store(true)
	s.ln.Close()
	h2done := make(chan struct{})
	go func() {
		defer close(h2done)
		if s.h2 != nil {
			ctx, cancel := context.WithTimeout(context.Background(), s.o.DrainTimeout)
			defer cancel()
			if s.h2.Shutdown(ctx) != nil {
				s.h2.Close()
			}
		}
	}()
	done := make(chan struct{})
	go func() { s.connWG.Wait(); close(done) }()
	deadline := time.NewTimer(s.o.DrainTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	graceEnds := time.Now().Add(min(idleGrace, s.o.DrainTimeout))
wait:
	for {
		select {
		case <-done:
			break wait
		case now := <-tick.C:
			if now.After(graceEnds) {
				s.closeIdleClients()
			}
		case <-deadline.C:
			s.connMu.Lock()
			for c := range s.conns {
				c.nc.Close()
			}
			s.connMu.Unlock()
			s.wakeLoops(true)
			s.closePools(true)
			<-done
			break wait
		}
	}
	<-h2done
	s.closePools(true)
}

func (s *Server) closeIdleClients() {
	s.idleClose.Store(true)
	s.wakeLoops(false)
	s.connMu.Lock()
	defer s.connMu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			c.nc.Close()
		}
	}
}

func (s *Server) closePools(force bool) {
	s.poolMu.Lock()
	defer s.poolMu.Unlock()
	for _, p := range s.pools {
		p.close(force)
	}
}

// sweepLoop, four times a second, closes backend connections that must not be reused and
// ends those to backends draining for longer than DrainTimeout; it also trims the rate
// limiter.
func (s *Server) sweepLoop(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.poolMu.Lock()
			down := false
			for _, p := range s.pools {
				p.sweep(now, s.o.DrainTimeout)
				down = down || !p.u.Available()
			}
			s.poolMu.Unlock()
			if down && s.h2tr != nil {
				s.h2tr.CloseIdleConnections() // never reuse one to a backend out of selection
				s.h2fl.sweep(now, s.o.DrainTimeout)
			}
			if n++; s.lim != nil && n%240 == 0 {
				s.lim.sweep(now)
			}
		}
	}
}
