package dns

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns/policy"
)

// A service whose pools front proxies ([pools.NAME] fronts, config/spill.go) has two failover
// bounds: clients that reach a region's proxy are moved by the proxy (it spills to the next
// region once its own backends are detected down: detection only), clients that reach the
// answer's addresses without a proxy in between wait out the TTL as well (the DNS bound).

// fronted is a pool of a service that fronts proxies, and the pool of backends behind them.
type fronted struct {
	pool   string
	behind *policy.Pool
}

// frontedPools are svc's pools (in order) that front proxies.
func frontedPools(cfg *config.Config, svc config.Service, pools map[string]*policy.Pool) []fronted {
	var out []fronted
	for _, pn := range svc.Pools {
		if p, ok := cfg.Pool(pn); ok && p.Fronts != "" && pools[p.Fronts] != nil {
			out = append(out, fronted{pool: pn, behind: pools[p.Fronts]})
		}
	}
	return out
}

// proxyBound is how long clients through the service's proxies can see a failed region: the
// detection time of the monitors of the pools behind them (interval × fall + timeout); 0 when
// no pool of the service fronts proxies.
func proxyBound(cfg *config.Config, fs []fronted) (time.Duration, string) {
	var worst time.Duration
	var how string
	for _, f := range fs {
		for _, m := range cfg.PoolMonitors(f.behind.Name) {
			if d := m.Interval*time.Duration(m.Fall) + m.Timeout; d > worst {
				worst = d
				how = fmt.Sprintf("%v through the proxies (monitor %s of %s: interval %v × fall %d + timeout %v; the proxy spills, no TTL)",
					d, m.Name, f.behind.Name, m.Interval, m.Fall, m.Timeout)
			}
		}
	}
	return worst, how
}

// spilling lists the pools of svc whose proxies serve by spill now: the pool behind them has
// fewer than min_healthy endpoints serving (hv nil: none is known down).
func (svc *service) spilling(hv policy.HealthView) []string {
	var out []string
	for _, f := range svc.fronts {
		if n, _ := servingOf(f.behind, hv); n < max(f.behind.MinHealthy, 1) {
			out = append(out, f.pool)
		}
	}
	return out
}

// servingOf counts p's enabled endpoints that serve under hv, and its enabled endpoints.
func servingOf(p *policy.Pool, hv policy.HealthView) (serving, enabled int) {
	for _, e := range p.Endpoints {
		if !e.Enabled {
			continue
		}
		enabled++
		if hv == nil || policy.Serves(hv.State(e.ID), &e) {
			serving++
		}
	}
	return serving, enabled
}

// explainSpill is explain's lines about the service's proxy-fronted pools.
func (svc *service) explainSpill(b *strings.Builder, hv policy.HealthView) {
	spilling := svc.spilling(hv)
	for _, f := range svc.fronts {
		n, of := servingOf(f.behind, hv)
		if slices.Contains(spilling, f.pool) {
			fmt.Fprintf(b, "  pool %s fronts proxies over %s (%d/%d serving): the region is served by spill — its proxies send what reaches them to the next region's backends (listeners with spill)\n",
				f.pool, f.behind.Name, n, of)
		} else {
			fmt.Fprintf(b, "  pool %s fronts proxies over %s (%d/%d serving)\n", f.pool, f.behind.Name, n, of)
		}
	}
}
