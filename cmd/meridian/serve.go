package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/health/measure"
	"github.com/meridian-gslb/meridian/proxy"
	"github.com/meridian-gslb/meridian/proxy/feedback"
	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/web"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "config file (default: the embedded demo config)")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return errQuiet
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))

	cfg, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errQuiet
	}
	var regions atomic.Pointer[[]web.RegionInfo] // the dashboard's map; follows reloads
	regions.Store(regionInfo(cfg))
	api := &web.API{Node: cfg.Server.Node, Regions: func() []web.RegionInfo { return *regions.Load() }}
	if cfg.Server.TokenFile != "" {
		if api.Token, err = readToken(cfg.Server.TokenFile); err != nil {
			return fmt.Errorf("[server] token_file: %w", err)
		}
	}
	var peerSecret string
	if cfg.Server.PeerSecretFile != "" {
		if peerSecret, err = readToken(cfg.Server.PeerSecretFile); err != nil {
			return fmt.Errorf("[server] peer_secret_file: %w", err)
		}
	}
	unlock, err := store.Lock(cfg.Server.DataDir)
	if err != nil {
		return err
	}
	defer unlock()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	web.RegisterBuildInfo(reg)
	st, err := store.Open(filepath.Join(cfg.Server.DataDir, "state.db"), store.Options{Registerer: reg, Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	api.Health = st
	targets, rules := fullPlan(cfg)
	st.SetRules(rules)
	var plan atomic.Pointer[[]health.Target] // what remote probers fetch; follows reloads
	plan.Store(remotePlan(targets))
	meas := store.NewMeasurements(store.MeasureOptions{Registerer: reg}) // what proxies report
	if peerSecret != "" {
		api.Peer = &web.Peer{Secret: []byte(peerSecret), Sink: st, Plan: func() []health.Target { return *plan.Load() }, Feedback: meas, Registerer: reg}
	}
	h, err := dns.NewHandler(cfg, log, reg, dns.WithHealth(healthView{st}), dns.WithMeasurements(meas))
	if err != nil {
		return err
	}
	api.Services = h
	var demo *demo // the embedded config's demo backends
	if *path == "" {
		demo = newDemo(cfg, log)
		defer demo.Close()
		api.Demo = demo
	}
	sched := health.NewScheduler(cfg.Server.Node, targets, health.Probers(), st,
		health.SchedulerOptions{Logger: log, Registerer: reg})
	var proxies *proxy.Set // the local proxy listeners, when the config has any
	var rec *feedback.Recorder
	if len(cfg.Proxies) > 0 {
		rec = feedback.NewRecorder(feedback.Options{Proxy: cfg.Server.Node, Region: cfg.Proxies[0].Region, Logger: log, Registerer: reg,
			Loads: func() []measure.BackendLoad { return measure.Loads(proxies.InFlight()) }})
		if proxies, err = proxy.New(cfg, proxy.Options{Logger: log, Registerer: reg, Feedback: rec}); err != nil {
			return err
		}
		proxies.ApplyHealth(viewHealth(st.View()))
		api.Proxy = proxyBackends(proxies)
	}
	rl := &reloader{path: *path, h: h, st: st, sched: sched, plan: &plan, regions: &regions, proxies: proxies, log: log, stderr: stderr}
	rl.running.Store(cfg)
	api.Config, api.Reload = rl.config, rl.reload
	dnsSrv := dns.NewServer(h, log, cfg.Server.UDPSockets)
	if err := dnsSrv.Listen(ctx, cfg.Server.DNS); err != nil {
		return err
	}
	var webSrv *web.Server
	if cfg.Server.HTTP.IsValid() {
		webSrv = web.New(reg, func() error { return nil }, api, log)
		if err := webSrv.Listen(cfg.Server.HTTP); err != nil {
			dnsSrv.Close()
			return err
		}
	}
	if proxies != nil {
		if err := proxies.Listen(); err != nil {
			dnsSrv.Close()
			return err
		}
	}
	greet(stdout, cfg, dnsSrv, webSrv)
	if demo != nil {
		greetDemo(stdout, cfg, dnsSrv, webSrv)
	}
	if proxies != nil {
		greetProxies(stdout, cfg, proxies)
	}
	log.Info("serving", "config", cfg.Source, "zones", len(cfg.Zones), "node", cfg.Server.Node)
	if len(cfg.Zones) == 0 {
		log.Warn("the config has no zones: every DNS question is refused", "config", cfg.Source)
	}

	if proxies != nil {
		defer proxies.AddProcs()() // before the DNS server's own change, undone after it
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return dnsSrv.Run(ctx) })
	if webSrv != nil {
		g.Go(func() error { return webSrv.Run(ctx) })
	}
	g.Go(func() error { return sched.Run(ctx) })
	if demo != nil {
		g.Go(func() error { return demo.run(ctx) })
	}
	g.Go(func() error { return reloadOnHUP(ctx, rl) })
	g.Go(func() error { h.WatchGeo(ctx); return nil })
	if proxies != nil {
		g.Go(func() error { return proxies.Run(ctx) })
		g.Go(func() error { followStore(ctx, st, proxies); return nil })
		g.Go(func() error { return feedback.NewReporter(rec, meas, feedback.ReporterOptions{Logger: log}).Run(ctx) })
	}
	err = g.Wait()
	log.Info("stopped")
	return err
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default()
	}
	return config.Load(path)
}

// reloader re-reads the config on SIGHUP and on POST /api/v1/reload, one reload at a time.
type reloader struct {
	mu      sync.Mutex // serialises reloads
	path    string
	running atomic.Pointer[config.Config]
	h       *dns.Handler
	st      *store.Store
	sched   *health.Scheduler
	plan    *atomic.Pointer[[]health.Target]
	regions *atomic.Pointer[[]web.RegionInfo]
	proxies *proxy.Set // nil: the config had no proxy listener at start
	log     *slog.Logger
	stderr  io.Writer
}

// config is the running config.
func (r *reloader) config() *config.Config { return r.running.Load() }

// reload re-reads the config. A good one replaces the running snapshot at once; a bad one is
// reported problem by problem, returned, and the running config keeps serving. So is one that
// would drop every zone or most of them (a truncated file), unless allowZoneLoss.
func (r *reloader) reload(allowZoneLoss bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	running := r.running.Load()
	cfg, err := loadConfig(r.path)
	if err == nil && !allowZoneLoss {
		err = config.CheckZoneLoss(running, cfg)
	}
	// The proxies first: their Reload changes nothing on error, and when the DNS handler then
	// refuses the config (a geo database or latency table that does not load), they go back to
	// the running config, so DNS and proxies never serve different configs.
	if err == nil && r.proxies != nil {
		err = r.proxies.Reload(cfg)
	}
	if err == nil {
		if err = r.h.Reload(cfg); err != nil && r.proxies != nil {
			if rerr := r.proxies.Reload(running); rerr != nil {
				r.log.Error("proxies not restored to the running config", "err", rerr)
			}
		}
	}
	if err != nil {
		// Problems go to stderr as they are, one per line, like `meridian check` prints them.
		var probs config.Problems
		attrs := []any{"config", r.path, "loaded", running.LoadedAt.Format("15:04:05")}
		if errors.As(err, &probs) {
			fmt.Fprintln(r.stderr, err)
			attrs = append(attrs, "problems", len(probs))
		} else {
			attrs = append(attrs, "err", err)
		}
		r.log.Error("config rejected; still serving the previous config", attrs...)
		return err
	}
	if !slices.Equal(cfg.Server.DNS, running.Server.DNS) || cfg.Server.HTTP != running.Server.HTTP ||
		cfg.Server.UDPSockets != running.Server.UDPSockets || cfg.Server.DataDir != running.Server.DataDir {
		r.log.Warn("listener or data_dir changes take effect at the next restart")
	}
	if r.proxies == nil && len(cfg.Proxies) > 0 {
		r.log.Warn("proxy listeners start at the next restart")
	}
	targets, rules := fullPlan(cfg)
	r.st.SetRules(rules)
	r.sched.Replace(targets)
	r.plan.Store(remotePlan(targets))
	r.regions.Store(regionInfo(cfg))
	r.running.Store(cfg)
	r.log.Info("config reloaded", "config", r.path, "zones", len(cfg.Zones), "probe_targets", len(targets))
	if len(cfg.Zones) == 0 {
		r.log.Warn("the config has no zones: every DNS question is refused", "config", r.path)
	}
	return nil
}

// reloadOnHUP reloads the config on every SIGHUP until ctx is done.
func reloadOnHUP(ctx context.Context, r *reloader) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
		}
		_ = r.reload(false) // logged; the running config keeps serving
		if r.proxies != nil {
			if err := r.proxies.ReloadCerts(); err != nil {
				r.log.Error("certificates not reloaded; still serving the previous ones", "err", err)
			}
		}
	}
}

func regionInfo(cfg *config.Config) *[]web.RegionInfo {
	out := make([]web.RegionInfo, 0, len(cfg.Regions))
	for _, r := range cfg.Regions {
		out = append(out, web.RegionInfo{Name: r.Name, Lat: r.Lat, Lon: r.Lon, HasCoords: r.HasCoords})
	}
	return &out
}

func greet(w io.Writer, cfg *config.Config, d *dns.Server, ws *web.Server) {
	addrs := d.Addrs()
	fmt.Fprintf(w, "meridian: serving %d zone(s) from %s on", len(cfg.Zones), cfg.Source)
	for _, a := range addrs {
		fmt.Fprintf(w, " %s", a)
	}
	fmt.Fprintln(w, " (udp+tcp)")
	if ws != nil {
		fmt.Fprintf(w, "meridian: dashboard http://%s/  metrics http://%s/metrics  health http://%s/healthz\n", ws.Addr(), ws.Addr(), ws.Addr())
	}
	if name := sampleName(cfg); name != "" && len(addrs) > 0 {
		fmt.Fprintf(w, "meridian: try  dig @%s -p %d %s\n", addrs[0].Addr(), addrs[0].Port(), name)
	}
}

// greetDemo tells a new user what to try on the embedded demo.
func greetDemo(w io.Writer, cfg *config.Config, d *dns.Server, ws *web.Server) {
	addrs := d.Addrs()
	if len(addrs) == 0 {
		return
	}
	a := addrs[0]
	fmt.Fprintf(w, "meridian: demo backends answer on port 18080 of the demo pools' addresses; try\n")
	fmt.Fprintf(w, "    dig @%s -p %d lb.example.test                           # failover: us-east first\n", a.Addr(), a.Port())
	fmt.Fprintf(w, "    dig @%s -p %d geo.example.test +subnet=198.51.100.0/24  # geo: eu-central\n", a.Addr(), a.Port())
	for _, p := range cfg.Proxies {
		fmt.Fprintf(w, "    curl -i http://%s/                                # the local proxy over pool %s\n", p.Listen, p.Pool)
	}
	if ws != nil {
		fmt.Fprintf(w, "  then stop us-east on the dashboard, http://%s/, and watch lb.example.test move to eu-central\n", ws.Addr())
	}
}

// sampleName is a name worth a first dig: a www A record if there is one, else any A record.
func sampleName(cfg *config.Config) string {
	first := ""
	for _, z := range cfg.Zones {
		for _, r := range z.Records {
			if r.Type != "A" {
				continue
			}
			if strings.HasPrefix(r.Name, "www.") {
				return r.Name
			}
			if first == "" {
				first = r.Name
			}
		}
	}
	return first
}
