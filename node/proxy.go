package node

import (
	"fmt"
	"os"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/health/plan"
	"github.com/meridian-gslb/meridian/web"
)

// buildProxy builds a Proxy node: the config's proxy listeners and, unless it follows a node,
// the monitors of their backends.
func (n *Node) buildProxy(cfg *config.Config) error {
	if len(cfg.Proxies) == 0 {
		return fmt.Errorf("%s has no [proxy.NAME] listener", cfg.Source)
	}
	if len(cfg.Notify) > 0 {
		n.log.Warn("[[notify]] webhooks are sent by meridian serve, which decides the transitions; not by a proxy", "config", cfg.Source)
	}
	if n.o.Name == "" {
		n.o.Name, _ = os.Hostname()
	}
	if err := n.buildProxies(cfg, n.o.Name); err != nil {
		return err
	}
	if n.o.Follow == "" {
		n.sink = newMemSink()
		n.sched = health.NewScheduler(cfg.Server.Node, plan.ForProxy(cfg).Local(), health.Probers(), n.sink,
			health.SchedulerOptions{Logger: n.log})
	}
	return n.listenProxies()
}

// proxySpills is the proxies' spilling listeners as the API shows them.
func (n *Node) proxySpills() []web.ProxySpill {
	var out []web.ProxySpill
	for _, s := range n.proxies.Spills() {
		ws := web.ProxySpill{Listener: s.Listener, Spilling: s.Spilling, InFlight: s.InFlight, MaxConns: s.MaxConns, Rate: s.Rate}
		if !s.Last.IsZero() {
			ws.Last = &s.Last
		}
		for _, t := range s.Tiers {
			ws.Tiers = append(ws.Tiers, web.ProxySpillTier{Pool: t.Pool, Available: t.Available, Backends: t.Backends, Spilled: t.Spilled})
		}
		out = append(out, ws)
	}
	return out
}
