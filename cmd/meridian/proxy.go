package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/health/measure"
	"github.com/meridian-gslb/meridian/health/peer"
	"github.com/meridian-gslb/meridian/proxy"
	"github.com/meridian-gslb/meridian/proxy/feedback"
	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/web"
)

// runProxy is `meridian proxy`: only the config's proxy listeners, no DNS. Health comes from
// a node (-node: its endpoint states and overrides) or from running the monitors here.
func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "config file (required)")
	node := fs.String("node", "", "follow this node's endpoint states and overrides (its HTTP base URL); default: run the monitors here")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	secretFile := fs.String("secret-file", "", "file holding the node's [server] peer_secret: with -node, send it feedback (client RTTs, backend loads)")
	name := fs.String("name", "", "this proxy's name in its feedback reports (default: the host name)")
	every := fs.Duration("feedback", measure.DefaultInterval, "how often to send feedback to the node")
	procs := fs.Int("procs", 0, "Go scheduler slots (GOMAXPROCS) for the proxy, besides one per tcp event loop; 0: one per CPU. 1 gives the lowest tail latency on a busy box, like HAProxy's nbthread 1")
	if err := fs.Parse(args); err != nil {
		return errQuiet
	}
	if *procs < 0 {
		return fmt.Errorf("-procs %d: want 0 (one per CPU) or more", *procs)
	}
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: meridian proxy -c FILE [-node URL [-name N -secret-file F]] [-procs N] [-log-level LEVEL]")
		return errQuiet
	}
	if *node != "" && !strings.HasPrefix(*node, "http://") && !strings.HasPrefix(*node, "https://") {
		return fmt.Errorf("-node %q: want a base URL such as http://10.0.0.1:8053", *node)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errQuiet
	}
	if len(cfg.Proxies) == 0 {
		return fmt.Errorf("%s has no [proxy.NAME] listener", *path)
	}
	if *name == "" {
		*name, _ = os.Hostname()
	}
	var secret string // with -node: feedback goes to the node, signed with it
	if *node != "" && *secretFile != "" {
		if secret, err = readToken(*secretFile); err != nil {
			return fmt.Errorf("-secret-file: %w", err)
		}
	}
	reg := prometheus.NewRegistry()
	var set *proxy.Set
	rec := feedback.NewRecorder(feedback.Options{Proxy: *name, Region: cfg.Proxies[0].Region, Logger: log, Registerer: reg,
		Loads: func() []measure.BackendLoad { return measure.Loads(set.InFlight()) }})
	set, err = proxy.New(cfg, proxy.Options{Logger: log, Registerer: reg, Feedback: rec})
	if err != nil {
		return err
	}
	if err := set.Listen(); err != nil {
		return err
	}
	greetProxies(stdout, cfg, set)

	defer set.AddProcs()() // the L4 event loops' own Ps, on top of -procs
	g, gctx := errgroup.WithContext(ctx)
	var sched *health.Scheduler
	if *node != "" {
		f := &nodeFollower{url: strings.TrimRight(*node, "/"), set: set, log: log.With("component", "proxy-health")}
		g.Go(func() error { f.run(gctx); return nil })
	} else {
		sink := &memSink{states: map[string]health.State{}}
		targets, _ := proxyPlan(cfg)
		sched = health.NewScheduler(cfg.Server.Node, targets, health.Probers(), sink, health.SchedulerOptions{Logger: log})
		g.Go(func() error { return sched.Run(gctx) })
		g.Go(func() error { sink.follow(gctx, set); return nil })
	}
	g.Go(func() error { return set.Run(gctx) })
	if secret != "" {
		push := peer.NewFeedbackPusher([]string{*node}, []byte(secret), &http.Client{Timeout: 5 * time.Second})
		rep := feedback.NewReporter(rec, push, feedback.ReporterOptions{Interval: *every, Logger: log})
		g.Go(func() error { return rep.Run(gctx) })
	}
	g.Go(func() error {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-hup:
			}
			reloadProxies(*path, set, sched, log, stderr)
		}
	})
	err = g.Wait()
	log.Info("stopped")
	return err
}

// reloadProxies re-reads the config and the certificates for `meridian proxy`. A bad config is
// reported problem by problem and the running one keeps serving.
func reloadProxies(path string, set *proxy.Set, sched *health.Scheduler, log *slog.Logger, stderr io.Writer) {
	cfg, err := config.Load(path)
	if err == nil {
		err = set.Reload(cfg)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		log.Error("config rejected; still serving the previous config", "config", path)
	} else {
		if sched != nil {
			targets, _ := proxyPlan(cfg)
			sched.Replace(targets)
		}
		log.Info("config reloaded", "config", path, "proxies", len(cfg.Proxies))
	}
	if err := set.ReloadCerts(); err != nil {
		log.Error("certificates not reloaded; still serving the previous ones", "err", err)
	}
}

func greetProxies(w io.Writer, cfg *config.Config, set *proxy.Set) {
	for _, p := range cfg.Proxies {
		fmt.Fprintf(w, "meridian: proxy %s (%s) on %s\n", p.Name, p.Mode, set.Addr(p.Name))
	}
}

// fullPlan is the node's probe plan: the pools' endpoints and the proxies' explicit backends
// that name a monitor.
func fullPlan(cfg *config.Config) ([]health.Target, map[string]store.Rule) {
	targets, rules := healthPlan(cfg)
	more, mrules := explicitPlan(cfg)
	for id, r := range mrules {
		rules[id] = r
	}
	return append(targets, more...), rules
}

// remotePlan is the plan remote probers fetch: the pools' endpoints, not the proxies'
// explicit backends ("proxy/NAME/host:port"), which only this node's prober can judge (their
// addresses are often loopback or private to this host).
func remotePlan(targets []health.Target) *[]health.Target {
	out := make([]health.Target, 0, len(targets))
	for _, t := range targets {
		if !strings.HasPrefix(t.ID, "proxy/") || strings.Count(t.ID, "/") != 2 {
			out = append(out, t)
		}
	}
	return &out
}

// proxyPlan is what a standalone proxy probes: the endpoints of the pools its listeners use,
// and its explicit backends that name a monitor.
func proxyPlan(cfg *config.Config) ([]health.Target, map[string]store.Rule) {
	used := map[string]bool{}
	for _, p := range cfg.Proxies {
		used[p.Pool] = true
		for _, r := range p.Routes {
			used[r.Pool] = true
		}
	}
	all, rules := healthPlan(cfg)
	var targets []health.Target
	for _, t := range all {
		pool, _, _ := strings.Cut(t.ID, "/")
		if used[pool] {
			targets = append(targets, t)
		}
	}
	more, mrules := explicitPlan(cfg)
	for id, r := range mrules {
		rules[id] = r
	}
	return append(targets, more...), rules
}

// explicitPlan probes the explicit backends of listeners that name a monitor, at their own
// address and port.
func explicitPlan(cfg *config.Config) ([]health.Target, map[string]store.Rule) {
	var targets []health.Target
	rules := map[string]store.Rule{}
	for _, p := range cfg.Proxies {
		m, ok := cfg.Monitor(p.Monitor)
		if !ok {
			continue
		}
		hm := healthMonitor(m)
		lists := [][]config.ProxyBackend{p.Backends}
		for _, r := range p.Routes {
			lists = append(lists, r.Backends)
		}
		for _, list := range lists {
			for _, b := range list {
				id := proxy.ExplicitID(p.Name, b.Addr)
				if _, dup := rules[id]; dup {
					continue
				}
				targets = append(targets, health.Target{ID: id, Addr: b.Addr, Monitor: hm})
				rules[id] = store.Rule{Interval: m.Interval, Quorum: store.Quorum{Count: m.QuorumCount, Fraction: m.QuorumFraction}}
			}
		}
	}
	return targets, rules
}

// viewHealth is the store's view as the proxy reads it. A drained backend reports the
// probers' verdict (not the Down that policies see) with the override, so it drains rather
// than counting as failed.
func viewHealth(v *store.View) proxy.HealthFunc {
	return func(id string) (health.State, string) {
		ts := v.Target(id)
		if ts.Override.Kind == store.Drain {
			return ts.Aggregate, "drain"
		}
		if ts.Override.Kind != store.None {
			return ts.State, ts.Override.Kind.String()
		}
		return ts.State, ""
	}
}

// followStore applies the store's view to the proxies whenever it changes, until ctx ends.
func followStore(ctx context.Context, st *store.Store, set *proxy.Set) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	var last *store.View
	for {
		if v := st.View(); v != last {
			set.ApplyHealth(viewHealth(v))
			last = v
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// proxyBackends adapts the proxies' backends to the API's.
func proxyBackends(set *proxy.Set) func() []web.ProxyBackend {
	return func() []web.ProxyBackend {
		var out []web.ProxyBackend
		for _, b := range set.Backends() {
			out = append(out, web.ProxyBackend{Listener: b.Listener, ID: b.ID, Addr: b.Addr, Weight: b.Weight,
				Available: b.Available, Healthy: b.Healthy, Draining: b.Draining, Ejected: b.Ejected, InFlight: b.InFlight})
		}
		return out
	}
}

// memSink keeps the monitors' verdicts of a standalone proxy: a probe that has not risen or
// fallen yet leaves the state as it was (unknown at first, which serves).
type memSink struct {
	mu      sync.Mutex
	states  map[string]health.State
	version uint64
}

func (m *memSink) Record(_ context.Context, o health.Observation) error {
	if o.Undecided {
		return nil
	}
	st := health.Down
	if o.Up {
		st = health.Up
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.states[o.Target] != st {
		m.states[o.Target] = st
		m.version++
	}
	return nil
}

// follow applies the states to set when they change, until ctx ends.
func (m *memSink) follow(ctx context.Context, set *proxy.Set) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	last := ^uint64(0)
	for {
		m.mu.Lock()
		v, states := m.version, maps.Clone(m.states)
		m.mu.Unlock()
		if v != last {
			set.ApplyHealth(func(id string) (health.State, string) { return states[id], "" })
			last = v
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// nodeFollower polls a node's endpoint states and overrides every second and applies them.
type nodeFollower struct {
	url string
	set *proxy.Set
	log *slog.Logger
}

func (f *nodeFollower) run(ctx context.Context) {
	c := &http.Client{Timeout: 2 * time.Second}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	failing := false
	for {
		states, err := f.fetch(ctx, c)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			f.log.Warn("cannot read the node's endpoint states; keeping the last ones", "node", f.url, "err", err)
			failing = true
		case err == nil:
			if failing {
				f.log.Info("reading the node's endpoint states again", "node", f.url)
			}
			failing = false
			f.set.ApplyHealth(func(id string) (health.State, string) {
				e, ok := states[id]
				if !ok {
					return health.Unknown, ""
				}
				return e.st, e.override
			})
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type nodeState struct {
	st       health.State
	override string
}

func (f *nodeFollower) fetch(ctx context.Context, c *http.Client) (map[string]nodeState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url+"/api/v1/endpoints", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", req.URL, resp.Status)
	}
	var body struct {
		Endpoints []struct {
			ID        string `json:"id"`
			State     string `json:"state"`
			Aggregate string `json:"aggregate"`
			Override  *struct {
				Kind string `json:"kind"`
			} `json:"override"`
		} `json:"endpoints"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("GET %s: %w", req.URL, err)
	}
	out := make(map[string]nodeState, len(body.Endpoints))
	for _, e := range body.Endpoints {
		ns := nodeState{st: parseState(e.State)}
		if e.Override != nil {
			ns.override = e.Override.Kind
			if e.Override.Kind == "drain" {
				ns.st = parseState(e.Aggregate)
			}
		}
		out[e.ID] = ns
	}
	return out, nil
}

func parseState(s string) health.State {
	switch s {
	case "up":
		return health.Up
	case "down":
		return health.Down
	}
	return health.Unknown
}
