package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/web"
)

// demoMonitor names the embedded config's monitor whose pools get demo backends.
const demoMonitor = "demo"

// demo runs the embedded config's demo backends: a small HTTP server on the monitor's port of
// every endpoint address of the pools it checks, answering /health and naming itself on /.
// Regions' backends are stopped and started from the dashboard, so a new user can watch a
// failover happen.
type demo struct {
	log     *slog.Logger
	mu      sync.Mutex
	regions []*demoRegion // sorted by name
}

type demoRegion struct {
	name    string
	addrs   []netip.AddrPort
	servers []*http.Server // nil while stopped
	failed  []string       // addresses that could not be bound at the last start
}

// newDemo starts a backend for every endpoint of the pools cfg checks with the demo monitor.
func newDemo(cfg *config.Config, log *slog.Logger) *demo {
	d := &demo{log: log.With("component", "demo")}
	m, ok := cfg.Monitor(demoMonitor)
	if !ok {
		return d
	}
	byRegion := map[string]*demoRegion{}
	for _, p := range cfg.Pools {
		if p.Monitor != demoMonitor {
			continue
		}
		r := byRegion[p.Region]
		if r == nil {
			r = &demoRegion{name: p.Region}
			byRegion[p.Region] = r
			d.regions = append(d.regions, r)
		}
		for _, e := range p.Endpoints {
			a := netip.AddrPortFrom(e.Addr, m.Port)
			if e.Probe.IsValid() {
				a = e.Probe
			}
			r.addrs = append(r.addrs, a)
		}
	}
	slices.SortFunc(d.regions, func(a, b *demoRegion) int { return strings.Compare(a.name, b.name) })
	for _, r := range d.regions {
		d.start(r)
	}
	return d
}

// start binds and serves r's backends; an address that cannot be bound is logged and left
// down (its endpoint then fails its probes, as a broken backend would).
func (d *demo) start(r *demoRegion) {
	r.failed = nil
	for _, a := range r.addrs {
		ln, err := net.Listen("tcp", a.String())
		if err != nil {
			d.log.Warn("demo backend not started", "region", r.name, "addr", a, "err", err)
			r.failed = append(r.failed, a.String())
			continue
		}
		srv := &http.Server{Handler: demoHandler(r.name, a), ReadHeaderTimeout: 5 * time.Second}
		r.servers = append(r.servers, srv)
		go func() { _ = srv.Serve(ln) }()
	}
	d.log.Info("demo backends started", "region", r.name, "backends", len(r.servers))
}

func demoHandler(region string, a netip.AddrPort) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Backend", a.String())
		fmt.Fprintf(w, "hello from the %s demo backend %s\n", region, a)
	})
	return mux
}

// Regions lists the demo regions and whether their backends run.
func (d *demo) Regions() []web.DemoRegion {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]web.DemoRegion, 0, len(d.regions))
	for _, r := range d.regions {
		dr := web.DemoRegion{Name: r.name, Running: r.servers != nil, Failed: r.failed}
		for _, a := range r.addrs {
			dr.Backends = append(dr.Backends, a.String())
		}
		out = append(out, dr)
	}
	return out
}

// SetRunning stops or starts region's demo backends.
func (d *demo) SetRunning(region string, run bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := slices.IndexFunc(d.regions, func(r *demoRegion) bool { return r.name == region })
	if i < 0 {
		return fmt.Errorf("%w: %q", web.ErrNoDemoRegion, region)
	}
	r := d.regions[i]
	switch {
	case run && r.servers == nil:
		d.start(r)
	case !run && r.servers != nil:
		d.stopRegion(r)
		d.log.Info("demo backends stopped", "region", r.name)
	}
	return nil
}

func (d *demo) stopRegion(r *demoRegion) {
	for _, s := range r.servers {
		_ = s.Close() // at once: a region that dies does not finish its requests
	}
	r.servers = nil
}

// Close stops every demo backend.
func (d *demo) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.regions {
		d.stopRegion(r)
	}
}

// run keeps the backends until ctx ends.
func (d *demo) run(ctx context.Context) error {
	<-ctx.Done()
	d.Close()
	return nil
}
