package node

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns"
	"github.com/meridian-gslb/meridian/health/plan"
	"github.com/meridian-gslb/meridian/node/notify"
	"github.com/meridian-gslb/meridian/proxy"
)

// change is a reload built and not yet serving: every part's next state.
type change struct {
	cfg     *config.Config
	dns     *dns.Prepared    // nil: no DNS
	proxies *proxy.Prepared  // nil: no proxies
	notify  *notify.Prepared // nil: no store to notify of
	plan    *plan.Plan
}

// Reload re-reads the node's file (Options.Load) and serves what it composes with the shared
// state (compose) as one transaction: it validates the new config, builds every part's next
// state, and then swaps them all in, or, on any error, none. A rejected config is reported
// problem by problem (Options.Problems), logged and returned, and the running config keeps
// serving. So is one that would drop every zone or most of them (a truncated file,
// config.CheckZoneLoss), unless allowZoneLoss. Reloads are serialised.
func (n *Node) Reload(allowZoneLoss bool) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	start := time.Now()
	local, err := n.o.Load()
	if err != nil {
		n.reject(n.cfg.Load(), err)
		return err
	}
	return n.rebuild(local, allowZoneLoss, time.Since(start))
}

// recompose serves the shared state's change (a pushed revision, endpoints registered or
// gone) with the file as last loaded.
func (n *Node) recompose() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rebuild(n.local.Load(), false, 0)
}

// rebuild is the transaction for local composed with the shared state; n.mu is held. loaded
// is how long reading local took (0: it was not read now), for the log.
func (n *Node) rebuild(local *config.Config, allowZoneLoss bool, loaded time.Duration) error {
	start := time.Now()
	running := n.cfg.Load()
	cfg, rev, pushedLoss, err := n.compose(local)
	if err == nil && n.h != nil && !allowZoneLoss && !pushedLoss {
		err = config.CheckZoneLoss(running, cfg)
	}
	var c *change
	if err == nil {
		c, err = n.prepare(cfg)
	}
	if err != nil {
		if rev != 0 && rev != n.status.served() {
			n.status.rejected(rev, err)
		}
		n.reject(running, err)
		return err
	}
	prepared := time.Since(start)
	n.commit(c)
	took := []any{"load", loaded.Round(time.Millisecond), "prepare", prepared.Round(time.Millisecond),
		"commit", (time.Since(start) - prepared).Round(time.Millisecond)}
	n.local.Store(local)
	n.status.serve(rev)
	n.warnRestart(running, cfg)
	if n.h != nil {
		n.log.Info("config reloaded", append([]any{"config", cfg.Source, "revision", rev, "zones", len(cfg.Zones), "probe_targets", len(c.plan.Local())}, took...)...)
		if len(cfg.Zones) == 0 {
			n.log.Warn("the config has no zones: every DNS question is refused", "config", cfg.Source)
		}
	} else {
		n.log.Info("config reloaded", append([]any{"config", cfg.Source, "proxies", len(cfg.Proxies)}, took...)...)
	}
	return nil
}

// prepare builds every part's next state; on error nothing is left half built.
func (n *Node) prepare(cfg *config.Config) (*change, error) {
	c := &change{cfg: cfg}
	var err error
	if n.proxies != nil {
		if c.proxies, err = n.proxies.Prepare(cfg); err != nil {
			return nil, err
		}
	}
	if n.notify != nil {
		if c.notify, err = n.notify.Prepare(cfg); err != nil {
			return nil, err
		}
	}
	if n.h != nil {
		if c.dns, err = n.h.Prepare(cfg); err != nil {
			return nil, err // the proxies' Prepared is dropped: it changed nothing
		}
		c.plan = plan.ForNode(cfg)
	} else {
		c.plan = plan.ForProxy(cfg)
	}
	return c, nil
}

// commit swaps every part to c. Nothing here can fail.
func (n *Node) commit(c *change) {
	if c.dns != nil {
		c.dns.Commit()
	}
	if c.proxies != nil {
		c.proxies.Commit()
	}
	if c.notify != nil {
		c.notify.Commit()
	}
	if n.st != nil {
		n.st.SetRules(c.plan.Rules())
		n.remote.Store(ptr(c.plan.Remote()))
		n.regions.Store(regionInfo(c.cfg))
	}
	if n.sched != nil {
		n.sched.Replace(c.plan.Local())
	}
	n.cfg.Store(c.cfg)
	if n.web != nil {
		n.web.Reloaded()
	}
	n.commitMu.Lock()
	close(n.committed)
	n.committed = make(chan struct{})
	n.commitMu.Unlock()
}

// reloaded is closed by the next commit.
func (n *Node) reloaded() <-chan struct{} {
	n.commitMu.Lock()
	defer n.commitMu.Unlock()
	return n.committed
}

// reject reports a config that is not taken.
func (n *Node) reject(running *config.Config, err error) {
	var probs config.Problems
	attrs := []any{"config", running.Source, "loaded", running.LoadedAt.Format("15:04:05")}
	if errors.As(err, &probs) {
		attrs = append(attrs, "problems", len(probs))
	} else {
		attrs = append(attrs, "err", err)
	}
	if n.o.Problems != nil {
		fmt.Fprintln(n.o.Problems, err) // as `meridian check` prints them, one per line
	}
	n.log.Error("config rejected; still serving the previous config", attrs...)
}

// warnRestart logs what a reload took but serves only after a restart.
func (n *Node) warnRestart(running, cfg *config.Config) {
	if n.h != nil && (!slices.Equal(cfg.Server.DNS, running.Server.DNS) || cfg.Server.HTTP != running.Server.HTTP ||
		cfg.Server.UDPSockets != running.Server.UDPSockets || cfg.Server.DataDir != running.Server.DataDir ||
		cfg.Server.TCP != running.Server.TCP) {
		n.log.Warn("listener, tcp_* or data_dir changes take effect at the next restart")
	}
	if n.proxies == nil && len(cfg.Proxies) > 0 {
		n.log.Warn("proxy listeners start at the next restart")
	}
	if (running.Cluster == nil) != (cfg.Cluster == nil) {
		n.log.Warn("[cluster] changes take effect at the next restart")
	}
}
