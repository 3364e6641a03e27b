package node

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns"
	"github.com/meridian-gslb/meridian/dns/policy"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/health/plan"
	"github.com/meridian-gslb/meridian/node/notify"
	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/web"
)

// buildServe builds a Serve node: store, plan, DNS, prober, proxies, web, in that order (each
// reads the ones before).
func (n *Node) buildServe(ctx context.Context, cfg *config.Config) error {
	api := &web.API{Node: cfg.Server.Node, Regions: func() []web.RegionInfo { return *n.regions.Load() }}
	n.regions.Store(regionInfo(cfg))
	var err error
	if cfg.Server.TokenFile != "" {
		if api.Token, err = config.ReadSecret(cfg.Server.TokenFile); err != nil {
			return fmt.Errorf("[server] token_file: %w", err)
		}
	}
	var peerSecret string
	if cfg.Server.PeerSecretFile != "" {
		if peerSecret, err = config.ReadSecret(cfg.Server.PeerSecretFile); err != nil {
			return fmt.Errorf("[server] peer_secret_file: %w", err)
		}
	}
	if n.o.Handover != nil {
		// The config is read and checked: ask the process being replaced for the data directory.
		if err := n.o.Handover.release(); err != nil {
			return err
		}
	}
	unlock, err := store.Lock(cfg.Server.DataDir)
	if err != nil {
		return err
	}
	n.unlock = unlock
	n.defer_(func() { _ = unlock() })

	n.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	web.RegisterBuildInfo(n.reg)
	if n.st, err = store.Open(filepath.Join(cfg.Server.DataDir, "state.db"), store.Options{Registerer: n.reg, Logger: n.log}); err != nil {
		return err
	}
	n.defer_(func() { _ = n.st.Close() })
	// From here on, cfg is what the node serves: its file composed with the shared state.
	if cfg, err = n.joinCluster(cfg); err != nil {
		return err
	}
	api.Health, api.Registry, api.Cluster = n.health(), n, n
	p := plan.ForNode(cfg)
	n.st.SetRules(p.Rules())
	n.remote.Store(ptr(p.Remote()))
	n.meas = store.NewMeasurements(store.MeasureOptions{Registerer: n.reg})
	if peerSecret != "" {
		api.Peer = &web.Peer{Secret: []byte(peerSecret), Sink: n.st, Plan: func() []health.Target { return *n.remote.Load() },
			Feedback: n.meas, Registerer: n.reg}
	}
	// One View per decision: the handler calls this once for each answer it decides.
	view := func() policy.HealthView { return n.st.View() }
	if n.h, err = dns.NewHandler(cfg, n.log, n.reg, dns.WithHealth(view), dns.WithMeasurements(n.meas), n.dnstap()); err != nil {
		return err
	}
	n.defer_(n.h.CloseDnstap) // closers run once Run has stopped the DNS server
	api.Services = n.h
	if n.o.Demo {
		n.demo = newDemo(cfg, n.log)
		n.defer_(n.demo.Close)
		api.Demo = n.demo
	}
	if n.notify, err = notify.New(cfg, n.st, notify.Options{Logger: n.log, Registerer: n.reg}); err != nil {
		return err
	}
	n.sched = health.NewScheduler(cfg.Server.Node, p.Local(), health.Probers(), n.st,
		health.SchedulerOptions{Logger: n.log, Registerer: n.reg})
	if len(cfg.Proxies) > 0 {
		if err := n.buildProxies(cfg, cfg.Server.Node); err != nil {
			return err
		}
		n.proxies.ApplyHealth(storeHealth(n.st.View(), awaitingRise(cfg))) // before the first client; then feed.go
		api.Proxy, api.ProxySpill = n.proxyBackends, n.proxySpills
	}
	api.Config, api.Reload = n.Config, n.Reload
	if n.o.Replace != nil {
		api.Replace = n.Replace
	}

	n.dns = dns.NewServer(n.h, n.log, cfg.Server.UDPSockets)
	n.dns.SetTCPLimits(cfg.Server.TCP)
	if n.o.Handover != nil {
		n.dns.Inherit(n.o.Handover.take)
	}
	if err := n.dns.Listen(ctx, cfg.Server.DNS); err != nil {
		return err
	}
	n.defer_(n.dns.Close)
	if cfg.Server.HTTP.IsValid() {
		n.web = web.New(n.reg, func() error { return nil }, api, n.log)
		if ln, err := n.handoverHTTP(); err != nil {
			return fmt.Errorf("inherited http listener: %w", err)
		} else if ln != nil {
			n.web.ListenOn(ln)
		} else if err := n.web.Listen(cfg.Server.HTTP); err != nil {
			return err
		}
		n.defer_(n.web.Close)
	}
	return n.listenProxies()
}

func ptr[T any](v T) *T { return &v }

func regionInfo(cfg *config.Config) *[]web.RegionInfo {
	out := make([]web.RegionInfo, 0, len(cfg.Regions))
	for _, r := range cfg.Regions {
		out = append(out, web.RegionInfo{Name: r.Name, Lat: r.Lat, Lon: r.Lon, HasCoords: r.HasCoords})
	}
	return &out
}

// proxyBackends is the proxies' backends as the API shows them.
func (n *Node) proxyBackends() []web.ProxyBackend {
	var out []web.ProxyBackend
	for _, b := range n.proxies.Backends() {
		out = append(out, web.ProxyBackend{Listener: b.Listener, ID: b.ID, Addr: b.Addr, Weight: b.Weight,
			Available: b.Available, Healthy: b.Healthy, Draining: b.Draining, Ejected: b.Ejected, InFlight: b.InFlight, Spill: b.Spill})
	}
	return out
}
