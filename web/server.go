package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Server serves the HTTP endpoints on one listener.
type Server struct {
	log   *slog.Logger
	ln    net.Listener
	tcp   *net.TCPListener // ln's socket
	srv   *http.Server
	ready func() error
	stop  chan struct{} // closed at shutdown, which does not wait for long-lived streams
	// sampler, when the API's Services count answers, is run by Run for the answer rates.
	sampler *sampler
	limits  Limits
	// rejected counts connections refused over the limits, by reason (limit.go).
	rejected *prometheus.CounterVec
	reloaded *signal // Reloaded fires it: the streams send the services anew
	history  *signal // EventsChanged fires it: the streams read the events anew
}

// New builds the server. ready reports why Meridian is not ready to answer yet, or nil. api,
// when not nil, serves the JSON API under /api/v1.
func New(reg *prometheus.Registry, ready func() error, api *API, log *slog.Logger) *Server {
	s := &Server{log: log.With("component", "web"), ready: ready, stop: make(chan struct{}), limits: DefaultLimits(), reloaded: newSignal(), history: newSignal()}
	s.rejected = promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Namespace: "meridian", Subsystem: "http", Name: "rejected_connections_total",
		Help: "HTTP connections closed at accept because the node's (total) or one client's (per_client) cap was reached.",
	}, []string{"reason"})
	mux := http.NewServeMux()
	if api != nil {
		if src, ok := api.Services.(CountSource); ok { // a nil Services is none
			s.sampler = newSampler(src)
		}
		s.apiHandler(api).register(mux)
		if api.Services != nil {
			registerDashboard(mux, api.Node)
		}
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	s.srv = &http.Server{Handler: closeUnread(mux), ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	s.SetLimits(s.limits)
	s.srv.RegisterOnShutdown(func() { close(s.stop) })
	return s
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.ready(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready:", err)
		return
	}
	fmt.Fprintln(w, "ready")
}

// Reloaded tells the event streams that the running config changed: the services they show
// follow it without waiting for a health change.
func (s *Server) Reloaded() { s.reloaded.Fire() }

// EventsChanged tells the event streams that the history grew without a change here (another
// node of the cluster decided a transition): they send the new events.
func (s *Server) EventsChanged() { s.history.Fire() }

// SetLimits replaces DefaultLimits (zero fields keep the defaults); call it before Listen.
func (s *Server) SetLimits(l Limits) {
	s.limits = l.withDefaults()
	s.srv.ReadTimeout, s.srv.IdleTimeout = s.limits.ReadTimeout, s.limits.IdleTimeout
	s.srv.ReadHeaderTimeout = min(5*time.Second, s.limits.ReadTimeout)
}

// Listen binds addr so that errors surface before serving starts.
func (s *Server) Listen(addr netip.AddrPort) error {
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		return fmt.Errorf("listen http %s: %w", addr, err)
	}
	s.ListenOn(ln)
	return nil
}

// ListenOn serves on ln, a listener already bound (one a replaced process handed over).
func (s *Server) ListenOn(ln net.Listener) {
	s.tcp, _ = ln.(*net.TCPListener)
	s.ln = newLimitListener(ln, s.limits, s.rejected)
}

// File is a duplicate of the listening socket, for a process taking over.
func (s *Server) File() (*os.File, error) {
	if s.tcp == nil {
		return nil, errors.New("http listener is not a TCP socket")
	}
	return s.tcp.File()
}

// Close releases the listener of a server that will not Run (Run closes its own).
func (s *Server) Close() {
	if s.ln != nil {
		_ = s.ln.Close()
	}
}

// Addr is the bound address.
func (s *Server) Addr() netip.AddrPort { return s.ln.Addr().(*net.TCPAddr).AddrPort() }

// Run serves until ctx is done, then shuts down, giving requests in flight 5 seconds.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	if s.sampler != nil {
		done := make(chan struct{})
		sampled := make(chan struct{})
		go func() { defer close(sampled); s.sampler.run(done) }()
		defer func() { close(done); <-sampled }()
	}
	s.log.Info("http listening", "addr", s.Addr())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) {
		err = errors.Join(err, e)
	}
	return err
}
