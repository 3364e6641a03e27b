package proxy

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/proxy/balance"
	"github.com/meridian-gslb/meridian/proxy/l7"
	"github.com/meridian-gslb/meridian/proxy/spill"
)

// Reload applies cfg to the running listeners (Prepare, then Commit). On an error nothing is
// changed.
func (s *Set) Reload(cfg *config.Config) error {
	p, err := s.Prepare(cfg)
	if err != nil {
		return err
	}
	p.Commit()
	return nil
}

// Prepared is a config's backends and routes built for the running listeners, not serving yet:
// Commit swaps them in; one that is never committed changes nothing.
type Prepared struct {
	s     *Set
	cfg   *config.Config
	swaps []swap
}

type swap struct {
	l      *listener
	ups    map[string]*balance.Upstream
	routes []*l7.Route
	tcp    []*balance.Upstream
	sel    balance.Selector
	spill  *spill.Spill
}

// Prepare builds cfg's backends and routes for the running listeners, keeping the Upstreams
// that stay (by ID), so their in-flight counts and ejections survive. Every other change
// (listen address, mode, TLS files, timeouts, limits, outlier settings) and listeners added or
// removed take effect at the next restart, and are logged so. Certificates are re-read by
// ReloadCerts, not here. Calls to Prepare and Commit must not overlap.
func (s *Set) Prepare(cfg *config.Config) (*Prepared, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := &Prepared{s: s, cfg: cfg}
	var errs []error
	for _, l := range s.listeners {
		pc, ok := cfg.Proxy(l.name)
		if !ok {
			continue
		}
		b := newUpstreams(pc.Name, l.ups)
		sw := swap{l: l}
		var err error
		if l.l4 != nil {
			sw.tcp, sw.sel, err = b.tcpBackends(cfg, pc)
		} else {
			sw.routes, err = b.routes(cfg, pc)
		}
		if err == nil {
			if sw.spill, err = s.newSpill(b, cfg, pc); err == nil && sw.routes != nil {
				sw.routes[len(sw.routes)-1].Spill = sw.spill
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("proxy %s: %w", pc.Name, err))
			continue
		}
		sw.ups = b.next
		p.swaps = append(p.swaps, sw)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// Commit serves the prepared backends and routes.
func (p *Prepared) Commit() {
	s, cfg := p.s, p.cfg
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.listeners {
		pc, ok := cfg.Proxy(l.name)
		switch {
		case !ok:
			s.log.Warn("proxy listener removed from the config; it stops at the next restart", "listener", l.name)
		case !sameStatic(l.cfg, pc):
			s.log.Warn("proxy listener settings changed; they take effect at the next restart (backends and routes change now)",
				"listener", pc.Name)
		}
	}
	for _, pc := range cfg.Proxies {
		if !s.has(pc.Name) {
			s.log.Warn("new proxy listener; it starts at the next restart", "listener", pc.Name, "listen", pc.Listen)
		}
	}
	for _, sw := range p.swaps {
		for _, u := range sw.ups {
			applyHealth(u, s.health) // new ones get the known state before they take work
		}
		sw.l.spill = sw.spill
		if sw.l.l4 != nil {
			sw.l.l4.SetPool(sw.tcp, sw.sel, sw.spill)
		} else {
			sw.l.l7.SetRoutes(sw.routes)
		}
		kept := 0
		for k := range sw.ups {
			if sw.l.ups[k] != nil {
				kept++
			}
		}
		sw.l.ups = sw.ups
		pc, _ := cfg.Proxy(sw.l.name)
		sw.l.cfg = withRouting(sw.l.cfg, pc)
		s.log.Info("proxy backends reloaded", "listener", pc.Name, "backends", len(sw.ups), "kept", kept)
	}
}

func (s *Set) has(name string) bool {
	for _, l := range s.listeners {
		if l.name == name {
			return true
		}
	}
	return false
}

// routing zeroes the fields a reload applies at once, leaving those that need a restart.
func routing(p config.Proxy) config.Proxy {
	p.Pool, p.Port, p.Backends, p.Routes = "", 0, nil, nil
	p.Algorithm, p.HashKey, p.Sticky, p.Monitor, p.Region, p.Line = "", "", nil, "", "", 0
	p.Spill, p.SpillService, p.SpillMaxConns, p.SpillRate = nil, "", 0, 0
	return p
}

// sameStatic reports whether a and b differ only in what a reload applies at once.
func sameStatic(a, b config.Proxy) bool { return reflect.DeepEqual(routing(a), routing(b)) }

// withRouting is running with next's routing fields: what the listener now runs.
func withRouting(running, next config.Proxy) config.Proxy {
	out := running
	out.Pool, out.Port, out.Backends, out.Routes = next.Pool, next.Port, next.Backends, next.Routes
	out.Algorithm, out.HashKey, out.Sticky, out.Monitor, out.Region, out.Line = next.Algorithm, next.HashKey, next.Sticky, next.Monitor, next.Region, next.Line
	out.Spill, out.SpillService, out.SpillMaxConns, out.SpillRate = next.Spill, next.SpillService, next.SpillMaxConns, next.SpillRate
	return out
}
