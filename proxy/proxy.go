package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/proxy/balance"
	"github.com/meridian-gslb/meridian/proxy/l4"
	"github.com/meridian-gslb/meridian/proxy/l7"
	"github.com/meridian-gslb/meridian/proxy/spill"
	"github.com/meridian-gslb/meridian/proxy/stats"
)

// ConnObserver sees every accepted client connection once, just before it is closed (the
// feedback recorder reads the client's RTT from it).
type ConnObserver interface{ ObserveConn(c *net.TCPConn) }

// Options configure a Set.
type Options struct {
	Logger     *slog.Logger          // default: discard
	Registerer prometheus.Registerer // the proxy metrics; nil: not registered
	Feedback   ConnObserver          // given to every listener; nil: none
	// HeldProcs is how many of the process's Go Ps are held by loops asleep in the kernel (the
	// event loops here, a DNS server's UDP readers): the L7 engine yields when GOMAXPROCS minus
	// these is 1. nil: this set's Loops. A node counts them all in one place.
	HeldProcs func() int
}

// HealthFunc says what health knows of a backend ID: its state, and the operator's override
// ("drain", "force-down", "force-up" or "").
type HealthFunc func(id string) (st health.State, override string)

// Set is every proxy listener of one config.
type Set struct {
	o   Options
	log *slog.Logger
	met *stats.Metrics

	mu        sync.Mutex // guards the listeners' backends and health (Reload, ApplyHealth)
	listeners []*listener
	health    HealthFunc // the last ApplyHealth's, applied to backends a reload adds
	inherit   func(key string) *os.File
}

// listener is one [proxy.NAME] and its server.
type listener struct {
	name    string       // cfg.Name, which never changes: read without the lock
	tls     bool         // TLS terminated (from the config at start, as the server is)
	cfg     config.Proxy // the running settings; guarded by Set.mu
	l4      *l4.Server
	l7      *l7.Server
	outlier *balance.Outlier
	// ups are the listener's distinct backends, over every route and its spill tiers; keyed
	// by upstreamKey.
	ups map[string]*balance.Upstream
	// spill is where work goes that none of its own backends can take; nil: none. Guarded
	// by Set.mu.
	spill *spill.Spill
}

// New builds a listener for every proxy of cfg; none listens until Listen.
func New(cfg *config.Config, o Options) (*Set, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Set{o: o, log: o.Logger.With("component", "proxy"), met: stats.New(o.Registerer)}
	var errs []error
	for _, pc := range cfg.Proxies {
		l, err := s.newListener(cfg, pc)
		if err != nil {
			errs = append(errs, fmt.Errorf("proxy %s: %w", pc.Name, err))
			continue
		}
		s.listeners = append(s.listeners, l)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Set) newListener(cfg *config.Config, pc config.Proxy) (*listener, error) {
	l := &listener{name: pc.Name, tls: pc.TLS != nil, cfg: pc, ups: map[string]*balance.Upstream{}}
	l.outlier = &balance.Outlier{Failures: pc.Outlier.Failures, Base: pc.Outlier.Base, Max: pc.Outlier.Max,
		OnEject: s.onEject(pc.Name)}
	var fb l4.ConnObserver
	if s.o.Feedback != nil {
		fb = s.o.Feedback
	}
	var err error
	if pc.Mode == config.ModeTCP {
		b := newUpstreams(pc.Name, nil)
		ups, sel, berr := b.tcpBackends(cfg, pc)
		if berr != nil {
			return nil, berr
		}
		if l.spill, berr = s.newSpill(b, cfg, pc); berr != nil {
			return nil, berr
		}
		l.ups = b.next
		l.l4, err = l4.New(l4.Options{
			Name: pc.Name, Listen: pc.Listen.String(), Backends: ups, Selector: sel, Spill: l.spill,
			ProxyProtocol: pc.ProxyProtocol, MaxConns: pc.MaxConns, MaxConnsPerBackend: pc.MaxConnsPerBackend,
			ConnectTimeout: pc.ConnectTimeout, IdleTimeout: pc.IdleTimeout, DrainTimeout: pc.DrainTimeout,
			Outlier: l.outlier, Feedback: fb, Metrics: s.met, Logger: s.o.Logger,
		})
		return l, err
	}
	b := newUpstreams(pc.Name, nil)
	routes, err := b.routes(cfg, pc)
	if err != nil {
		return nil, err
	}
	if l.spill, err = s.newSpill(b, cfg, pc); err != nil {
		return nil, err
	}
	routes[len(routes)-1].Spill = l.spill // the listener's own backends, the default route
	l.ups = b.next
	o := l7.Options{
		Name: pc.Name, Listen: pc.Listen.String(), Routes: routes,
		HeaderTimeout: pc.HeaderTimeout, IdleTimeout: pc.IdleTimeout, BackendTimeout: pc.BackendTimeout,
		WebSocketIdleTimeout: pc.WebSocketIdleTimeout, MaxHeaderBytes: pc.MaxHeaderBytes,
		Retries: pc.Retries, RetryTimeout: pc.RetryTimeout,
		RateLimit: l7.RateLimit{Rate: pc.RateLimit.Rate, Burst: pc.RateLimit.Burst},
		MaxConns:  pc.MaxConns, MaxConnsPerBackend: pc.MaxConnsPerBackend, DrainTimeout: pc.DrainTimeout,
		Outlier: l.outlier, Metrics: s.met, Logger: s.o.Logger,
	}
	if fb != nil {
		o.Feedback = fb
	}
	if pc.TLS != nil {
		o.TLS = &l7.TLS{MinVersion: pc.TLS.MinVersion}
		for _, c := range pc.TLS.Certs {
			o.TLS.Certs = append(o.TLS.Certs, l7.CertFiles{Cert: c.Cert, Key: c.Key})
		}
	}
	o.HeldProcs = s.o.HeldProcs
	if o.HeldProcs == nil {
		o.HeldProcs = s.Loops // the loops' Ps run no goroutines
	}
	l.l7, err = l7.New(o)
	return l, err
}

// onEject counts and logs passive ejections of listener name's backends.
func (s *Set) onEject(name string) func(u *balance.Upstream, d time.Duration) {
	return func(u *balance.Upstream, d time.Duration) {
		if s.met != nil {
			s.met.Ejections.WithLabelValues(name, u.ID).Inc()
		}
		s.log.Warn("backend ejected", "listener", name, "backend", u.ID, "addr", u.Addr, "for", d)
	}
}

// Inherit makes Listen take each listener's socket from take("proxy NAME") when it has one
// (a replaced process's, handed over), rather than binding it.
func (s *Set) Inherit(take func(key string) *os.File) { s.inherit = take }

// Files returns a duplicate of every listener's socket, keyed "proxy NAME", for a process
// taking over.
func (s *Set) Files() (keys []string, files []*os.File, err error) {
	for _, l := range s.listeners {
		var f *os.File
		if l.l4 != nil {
			f, err = l.l4.File()
		} else {
			f, err = l.l7.File()
		}
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, nil, fmt.Errorf("proxy %s: %w", l.name, err)
		}
		keys, files = append(keys, "proxy "+l.name), append(files, f)
	}
	return keys, files, nil
}

// adopt gives l the inherited socket for it, if there is one.
func (s *Set) adopt(l *listener) error {
	if s.inherit == nil {
		return nil
	}
	f := s.inherit("proxy " + l.name)
	if f == nil {
		return nil
	}
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return fmt.Errorf("inherited socket: %w", err)
	}
	tl, ok := ln.(*net.TCPListener)
	if !ok || tl.Addr().String() != l.cfg.Listen.String() && l.cfg.Listen.Port() != 0 {
		ln.Close()
		return nil // not what the config asks for now: bind anew
	}
	if l.l4 != nil {
		l.l4.ListenOn(tl)
	} else {
		l.l7.ListenOn(tl)
	}
	return nil
}

// Listen binds every listener, so that address errors surface before Run. On an error the
// listeners already bound are closed.
func (s *Set) Listen() error {
	for i, l := range s.listeners {
		err := s.adopt(l)
		if err == nil {
			err = l.listen()
		}
		if err != nil {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			for _, done := range s.listeners[:i] {
				_ = done.serve(ctx) // a done context: stops at once and closes the socket
			}
			return fmt.Errorf("proxy %s: %w", l.name, err)
		}
	}
	return nil
}

// Run serves every listener until ctx ends, then returns once all have shut down: each stops
// accepting at once and gives work in flight up to its drain_timeout.
func (s *Set) Run(ctx context.Context) error {
	var g errgroup.Group
	for _, l := range s.listeners {
		s.mu.Lock()
		s.log.Info("proxy listening", "listener", l.name, "mode", l.cfg.Mode, "addr", l.addr(), "backends", len(l.ups))
		s.mu.Unlock()
		g.Go(func() error {
			if err := l.serve(ctx); err != nil {
				return fmt.Errorf("proxy %s: %w", l.name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// Addr is where the named listener listens (after Listen), or nil.
func (s *Set) Addr(name string) net.Addr {
	for _, l := range s.listeners {
		if l.name == name {
			return l.addr()
		}
	}
	return nil
}

// Len is the number of listeners.
func (s *Set) Len() int { return len(s.listeners) }

// Loops is how many event loops the listeners run (L4, and L7 on cleartext listeners). Each
// sleeps in the kernel holding a Go P (as the DNS server's UDP readers do): whoever runs the set
// gives the process that many more GOMAXPROCS while Run runs (a node does it for all its parts).
func (s *Set) Loops() int {
	n := 0
	for _, l := range s.listeners {
		if l.l4 != nil {
			n += l.l4.Loops()
		}
		if l.l7 != nil {
			n += l.l7.Loops()
		}
	}
	return n
}

// ReloadCerts re-reads the certificate files of every TLS listener (SIGHUP).
func (s *Set) ReloadCerts() error {
	var errs []error
	for _, l := range s.listeners {
		if l.l7 != nil && l.tls {
			if err := l.l7.ReloadCerts(); err != nil {
				errs = append(errs, fmt.Errorf("proxy %s: reload certificates: %w", l.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (l *listener) listen() error {
	if l.l4 != nil {
		return l.l4.Listen()
	}
	return l.l7.Listen()
}

func (l *listener) serve(ctx context.Context) error {
	if l.l4 != nil {
		return l.l4.Serve(ctx)
	}
	return l.l7.Serve(ctx)
}

func (l *listener) addr() net.Addr {
	if l.l4 != nil {
		return l.l4.Addr()
	}
	return l.l7.Addr()
}
