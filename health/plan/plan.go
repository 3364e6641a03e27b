// Package plan turns a config into what gets probed: the targets of the node's own prober, of
// the remote probers and of a standalone proxy, and the store's rule for judging each. Every
// target carries its typed identity (config.TargetID); the plans are filtered by it, never by
// taking an ID string apart.
package plan

import (
	"net/netip"
	"regexp"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/store"
)

// Target is one probe target and what it is.
type Target struct {
	health.Target
	Key config.TargetID
}

// Plan is a config's probe targets and their rules, in config order.
type Plan struct {
	targets  []Target
	rules    map[string]store.Rule
	monitors map[string]*health.Monitor // one per config monitor, shared by its targets
}

func newPlan() *Plan {
	return &Plan{rules: map[string]store.Rule{}, monitors: map[string]*health.Monitor{}}
}

// monitor is the prober's form of m, made once per plan.
func (p *Plan) monitor(m config.Monitor) *health.Monitor {
	hm := p.monitors[m.Name]
	if hm == nil {
		hm = Monitor(m)
		p.monitors[m.Name] = hm
	}
	return hm
}

// ForNode is what `meridian serve` probes: every enabled endpoint of a pool that names a
// monitor, and every explicit backend of a proxy listener that names one.
func ForNode(cfg *config.Config) *Plan {
	p := newPlan()
	p.addPools(cfg, func(string) bool { return true })
	p.addBackends(cfg)
	return p
}

// ForProxy is what a standalone `meridian proxy` probes: the endpoints of the pools its
// listeners (and their routes) use, and its explicit backends.
func ForProxy(cfg *config.Config) *Plan {
	used := map[string]bool{}
	for _, pc := range cfg.Proxies {
		used[pc.Pool] = true
		for _, r := range pc.Routes {
			used[r.Pool] = true
		}
		for _, s := range pc.Spill { // spilled to on the same health as the DNS
			used[s.Pool] = true
		}
	}
	p := newPlan()
	p.addPools(cfg, func(pool string) bool { return used[pool] })
	p.addBackends(cfg)
	return p
}

// Local is every target, for the prober of this process.
func (p *Plan) Local() []health.Target {
	out := make([]health.Target, len(p.targets))
	for i, t := range p.targets {
		out[i] = t.Target
	}
	return out
}

// Remote is what remote probers fetch: the pools' endpoints, not the proxies' explicit
// backends, which only this host's prober can judge (their addresses are often loopback or
// private to the host).
func (p *Plan) Remote() []health.Target {
	var out []health.Target
	for _, t := range p.targets {
		if !t.Key.IsBackend() {
			out = append(out, t.Target)
		}
	}
	return out
}

// Targets is every target with its identity.
func (p *Plan) Targets() []Target { return append([]Target(nil), p.targets...) }

// Rules is the store's rule per target ID.
func (p *Plan) Rules() map[string]store.Rule { return p.rules }

func (p *Plan) add(key config.TargetID, addr netip.AddrPort, m config.Monitor, hm *health.Monitor) {
	id := key.String()
	if _, dup := p.rules[id]; dup {
		return // a backend listed by two routes of one listener is probed once
	}
	p.targets = append(p.targets, Target{Target: health.Target{ID: id, Addr: addr, Monitor: hm}, Key: key})
	p.rules[id] = store.Rule{Interval: m.Interval, Quorum: store.Quorum{Count: m.QuorumCount, Fraction: m.QuorumFraction}}
}

func (p *Plan) addPools(cfg *config.Config, want func(pool string) bool) {
	for _, pool := range cfg.Pools {
		m, ok := cfg.Monitor(pool.Monitor)
		if !ok || !want(pool.Name) {
			continue
		}
		hm := p.monitor(m)
		for _, e := range pool.Endpoints {
			if !e.Enabled {
				continue // never answered, so never probed
			}
			addr := e.Probe
			if !addr.IsValid() {
				addr = netip.AddrPortFrom(e.Addr, hm.Port)
			}
			p.add(config.EndpointTarget(pool, e), addr, m, hm)
		}
	}
}

// addBackends probes the explicit backends of listeners that name a monitor, at their own
// address and port.
func (p *Plan) addBackends(cfg *config.Config) {
	for _, pc := range cfg.Proxies {
		m, ok := cfg.Monitor(pc.Monitor)
		if !ok {
			continue
		}
		hm := p.monitor(m)
		lists := [][]config.ProxyBackend{pc.Backends}
		for _, r := range pc.Routes {
			lists = append(lists, r.Backends)
		}
		for _, list := range lists {
			for _, b := range list {
				p.add(config.BackendTarget(pc.Name, b.Addr), b.Addr, m, hm)
			}
		}
	}
}

// Monitor is m as the prober runs it.
func Monitor(m config.Monitor) *health.Monitor {
	h := &health.Monitor{
		Name: m.Name, Kind: m.Kind, Interval: m.Interval, Timeout: m.Timeout, Jitter: m.Jitter,
		Rise: m.Rise, Fall: m.Fall, Port: m.Port,
		Method: m.Method, Path: m.Path, Host: m.Host, Headers: m.Headers, ExpectStatus: m.ExpectStatus,
		ExpectBody: m.ExpectBody, MaxBody: m.MaxBody, FollowRedirects: m.FollowRedirects,
		Insecure: m.Insecure, ServerName: m.ServerName,
		Send: m.Send, Expect: m.Expect,
		QName: m.QName, QType: m.QType, ExpectRcode: m.ExpectRcode, ExpectAnswer: m.ExpectAnswer,
	}
	if m.BodyRegexp != "" {
		h.BodyRegexp = regexp.MustCompile(m.BodyRegexp) // config.Load compiled it already
	}
	return h
}
