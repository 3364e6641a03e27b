// Package node is one Meridian process. Built from a config, a Node owns the state store, the
// probe scheduler, the DNS server, the proxies, the web API and the dashboard; it runs them,
// and reloads them as one transaction (reload.go: validate, build every new part, swap all
// or none).
//
// State changes are pushed, not polled: the store publishes each new View; DNS decisions
// read the current View (one per decision); the proxies (feed.go), the dashboard's event
// stream and a `meridian proxy -node` following this node (web.Follower over the watch
// stream) wake on View.Changed. GOMAXPROCS is set in one place (procs.go).
//
//	n, err := node.New(ctx, cfg, node.Options{Role: node.Serve, Load: load, Logger: log})
//	err = n.Run(ctx) // until ctx ends; n.Reload(false) re-reads the config meanwhile
package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/health/measure"
	"github.com/meridian-gslb/meridian/node/notify"
	"github.com/meridian-gslb/meridian/proxy"
	"github.com/meridian-gslb/meridian/proxy/feedback"
	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/cluster"
	"github.com/meridian-gslb/meridian/web"
)

// Role is what a node runs.
type Role int

const (
	// Serve is `meridian serve`: DNS, the web API and dashboard, the state store, the local
	// prober, and the config's proxy listeners if it has any.
	Serve Role = iota
	// Proxy is `meridian proxy`: the config's proxy listeners alone, their health from a
	// followed node (Options.Follow) or from the monitors run here.
	Proxy
)

// Options configure a Node.
type Options struct {
	Role Role
	// Load reads the config again at each reload (the -c file, or config.Default).
	Load func() (*config.Config, error)
	// Logger: default discard. Problems gets a rejected reload's problems one per line, as
	// `meridian check` prints them (nil: only logged).
	Logger   *slog.Logger
	Problems io.Writer
	// Procs is GOMAXPROCS for the process's goroutines, on top of the Ps its loops asleep in
	// the kernel hold (procs.go); 0: GOMAXPROCS as Run finds it.
	Procs int
	// Demo starts the demo backends of the embedded config (Serve).
	Demo bool
	// HUP reloads the config and the TLS certificates on SIGHUP while Run runs.
	HUP bool

	// Follow (Proxy) is a node's HTTP base URL whose endpoint states the proxies follow; ""
	// runs the monitors here. With FeedbackSecret, the proxies' feedback (client RTTs, backend
	// loads) goes to that node every FeedbackEvery, under Name (default: the host name).
	Follow         string
	FeedbackSecret []byte
	FeedbackEvery  time.Duration
	Name           string

	// Replace (Serve) lets the node start its replacement and hand its sockets over
	// (handover.go): SIGUSR2 while Run runs with HUP, and POST /api/v1/replace. Handover is
	// set in a process started that way: its sockets come from the old one.
	Replace  *ReplaceWith
	Handover *Handover
}

// Node is one Meridian process's parts.
type Node struct {
	o   Options
	log *slog.Logger
	reg *prometheus.Registry

	mu  sync.Mutex // serialises reloads
	cfg atomic.Pointer[config.Config]

	st      *store.Store        // Serve
	meas    *store.Measurements // Serve: what proxies report
	h       *dns.Handler        // Serve
	dns     *dns.Server         // Serve
	web     *web.Server         // Serve with [server] http
	sched   *health.Scheduler   // nil: nothing is probed here (a proxy following a node)
	sink    *memSink            // Proxy with local monitors: their verdicts
	proxies *proxy.Set          // nil: no proxy listener
	rec     *feedback.Recorder  // with proxies
	demo    *demo               // Options.Demo
	notify  *notify.Notifier    // Serve: the [[notify]] webhooks
	remote  atomic.Pointer[[]health.Target]
	regions atomic.Pointer[[]web.RegionInfo]
	held    atomic.Int64 // Ps held by DNS readers and event loops (procs.go)

	// What the node serves beyond its file (shared.go, cluster.go, registry.go).
	local  atomic.Pointer[config.Config] // the node's own file, as last loaded
	sh     shared
	cl     *cluster.Client // nil: no [cluster]
	poke   chan struct{}   // the shared state changed: compose again
	built  string          // the shared state's signature the node was built from (New)
	status nodeStatus
	bg     context.Context // lives while Run runs: deferred removals
	// committed is closed by each reload's commit (reloaded): the proxies' feed applies health
	// again, for what the new config says of its endpoints.
	commitMu  sync.Mutex
	committed chan struct{}

	closers []func() // undone in reverse by close

	// Replace (handover.go): stopRun ends Run; stopSched stops the prober; unlock releases the
	// data directory.
	replacing atomic.Bool
	stopRun   context.CancelFunc
	stopSched func()
	unlock    func() error
}

// New builds every part cfg asks for and binds every socket, so that errors surface before
// anything serves. On error, what was built is closed again.
func New(ctx context.Context, cfg *config.Config, o Options) (*Node, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Load == nil {
		o.Load = func() (*config.Config, error) { return config.Load(cfg.Source) }
	}
	n := &Node{o: o, log: o.Logger, reg: prometheus.NewRegistry(), poke: make(chan struct{}, 1), bg: context.Background(),
		committed: make(chan struct{})}
	n.cfg.Store(cfg)
	n.local.Store(cfg)
	n.status.init(cfg.Server.Node)
	var err error
	switch o.Role {
	case Serve:
		err = n.buildServe(ctx, cfg)
	case Proxy:
		err = n.buildProxy(cfg)
	default:
		err = fmt.Errorf("unknown node role %d", o.Role)
	}
	if err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

// defer schedules f for close, after the parts built later.
func (n *Node) defer_(f func()) { n.closers = append(n.closers, f) }

func (n *Node) close() {
	for i := len(n.closers) - 1; i >= 0; i-- {
		n.closers[i]()
	}
	n.closers = nil
}

// buildProxies builds the config's proxy listeners and their feedback recorder.
func (n *Node) buildProxies(cfg *config.Config, name string) error {
	n.rec = feedback.NewRecorder(feedback.Options{Proxy: name, Region: cfg.Proxies[0].Region, Logger: n.log, Registerer: n.reg,
		Loads: func() []measure.BackendLoad { return measure.Loads(n.proxies.InFlight()) }})
	set, err := proxy.New(cfg, proxy.Options{Logger: n.log, Registerer: n.reg, Feedback: n.rec,
		HeldProcs: func() int { return int(n.held.Load()) }})
	if err != nil {
		return err
	}
	n.proxies = set
	return nil
}

// listenProxies binds the proxy listeners (or takes them from the process being replaced);
// Run closes them.
func (n *Node) listenProxies() error {
	if n.proxies == nil {
		return nil
	}
	if n.o.Handover != nil {
		n.proxies.Inherit(n.o.Handover.take)
	}
	return n.proxies.Listen()
}

// Config is the running config.
func (n *Node) Config() *config.Config { return n.cfg.Load() }

// DNSAddrs are the DNS server's bound addresses (udp+tcp), none for a proxy.
func (n *Node) DNSAddrs() []netip.AddrPort {
	if n.dns == nil {
		return nil
	}
	return n.dns.Addrs()
}

// HTTPAddr is the web server's bound address, if it has one.
func (n *Node) HTTPAddr() (netip.AddrPort, bool) {
	if n.web == nil {
		return netip.AddrPort{}, false
	}
	return n.web.Addr(), true
}

// ProxyAddr is proxy listener name's bound address, nil if there is none.
func (n *Node) ProxyAddr(name string) net.Addr {
	if n.proxies == nil {
		return nil
	}
	return n.proxies.Addr(name)
}

// Store is the node's state store (Serve), for tests and tools in this process.
func (n *Node) Store() *store.Store { return n.st }

// Proxies lists the proxies' backends as they serve now.
func (n *Node) Proxies() []proxy.BackendInfo {
	if n.proxies == nil {
		return nil
	}
	return n.proxies.Backends()
}
