package main

import (
	"net/netip"
	"regexp"
	"time"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/store"
)

// healthPlan turns the config's monitored pools into probe targets and the store's rules for
// judging them: one target per enabled endpoint of a pool that names a monitor.
func healthPlan(cfg *config.Config) ([]health.Target, map[string]store.Rule) {
	monitors := map[string]*health.Monitor{}
	rules := map[string]store.Rule{}
	var targets []health.Target
	for _, m := range cfg.Monitors {
		monitors[m.Name] = healthMonitor(m)
	}
	for _, p := range cfg.Pools {
		m := monitors[p.Monitor]
		if m == nil {
			continue
		}
		cm, _ := cfg.Monitor(p.Monitor)
		for _, e := range p.Endpoints {
			if !e.Enabled {
				continue // never answered, so never probed
			}
			addr := e.Probe
			if !addr.IsValid() {
				addr = netip.AddrPortFrom(e.Addr, m.Port)
			}
			id := p.EndpointID(e)
			targets = append(targets, health.Target{ID: id, Addr: addr, Monitor: m})
			rules[id] = store.Rule{Interval: m.Interval, Quorum: store.Quorum{Count: cm.QuorumCount, Fraction: cm.QuorumFraction}}
		}
	}
	return targets, rules
}

func healthMonitor(m config.Monitor) *health.Monitor {
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

// healthView is the store as the DNS policies see it: the current view's state per endpoint.
type healthView struct{ s *store.Store }

func (v healthView) State(target string) health.State { return v.s.View().State(target) }

// Since is when target's state last changed: answers stay degraded (degraded_ttl) for a while.
func (v healthView) Since(target string) time.Time { return v.s.View().Since(target) }
