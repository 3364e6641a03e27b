package node

import (
	"fmt"
	"os"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/health/plan"
)

// buildProxy builds a Proxy node: the config's proxy listeners and, unless it follows a node,
// the monitors of their backends.
func (n *Node) buildProxy(cfg *config.Config) error {
	if len(cfg.Proxies) == 0 {
		return fmt.Errorf("%s has no [proxy.NAME] listener", cfg.Source)
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
