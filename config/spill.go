package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Cross-region spill ([proxy.NAME] spill, spill_service, spill_port, spill_max_conns,
// spill_rate) and the pools that front a region's proxies ([pools.NAME] fronts).
//
// The model: a service may answer with its regions' proxy addresses (a pool whose endpoints
// are the listen addresses of that region's [proxy.*] listeners, marked fronts = "the pool
// those proxies balance over"). DNS steers a client to a region's proxy; the proxy balances
// over the region's backends and, when none of them can take new work, spills to the next
// region's backends (straight to them, with the health the DNS uses) until its own come back.

// ProxySpill is one pool a listener spills to, in order: its enabled endpoints at Port.
type ProxySpill struct {
	Pool string
	Port uint16
}

// spillKeys are the listener keys that only mean something on a listener that spills.
var spillKeys = []string{"spill_port", "spill_max_conns", "spill_rate"}

// decodeSpill reads a listener's spill keys. spill_service is resolved once the services are
// known (resolveSpill, after the zones).
func decodeSpill(o *obj, p *Proxy, refs proxyRefs) {
	names, vals, sv := o.Strings("spill")
	svc, svcv := o.String("spill_service", "")
	port, portv := o.Int("spill_port", int64(p.Port), 1, 65535)
	mc, _ := o.Int("spill_max_conns", 0, 0, 1_000_000)
	rate, _ := o.Float("spill_rate", 0, 0, 1e6)
	p.SpillMaxConns, p.SpillRate = mc, rate
	if sv == nil && svcv == nil {
		for _, k := range spillKeys {
			if v := o.t.m[k]; v != nil {
				o.problem(v, k, "is for a listener that spills (spill = [\"POOL\", ...] or spill_service = \"NAME\")")
			}
		}
		return
	}
	if sv != nil && svcv != nil {
		o.problem(svcv, "spill_service", "give either spill (pools, in order) or spill_service (its pool order), not both")
		return
	}
	if port == 0 && portv == nil {
		at := sv
		if at == nil {
			at = svcv
		}
		o.problem(at, "spill_port", "is required: the port of the spill pools' endpoints (explicit backends give no pool port to default to)")
		return
	}
	if sv != nil {
		if sv.kind == kArray && len(sv.arr) == 0 {
			o.problem(sv, "spill", "at least one pool is needed (leave spill out for none)")
		}
		for i, n := range names {
			key := fmt.Sprintf("spill[%d]", i)
			pl, ok := findPool(refs.pools, n)
			switch {
			case !ok:
				o.problem(vals[i], key, "%s", undefined("pool", n, poolNames(refs.pools)))
			case n == p.Pool:
				o.problem(vals[i], key, "pool %q is the listener's own pool; spill names other regions' pools", n)
			case pl.Fronts != "":
				o.problem(vals[i], key, "pool %q fronts proxies (fronts = %q): spill straight to the backends, spill = [%q]", n, pl.Fronts, pl.Fronts)
			case slices.ContainsFunc(p.Spill, func(s ProxySpill) bool { return s.Pool == n }):
				o.problem(vals[i], key, "pool %q is listed twice", n)
			case !slices.ContainsFunc(pl.Endpoints, func(e Endpoint) bool { return e.Enabled }):
				o.problem(vals[i], key, "pool %q has no enabled endpoint", n)
			default:
				p.Spill = append(p.Spill, ProxySpill{Pool: n, Port: uint16(port)})
			}
		}
		return
	}
	name := strings.ToLower(svc)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	p.SpillService = name
	o.d.after = append(o.d.after, func(cfg *Config) { resolveSpill(o, svcv, cfg, p.Name, uint16(port)) })
}

// resolveSpill derives listener name's spill order from its spill_service: the service's pools
// in their configured order, each pool that fronts proxies replaced by the pool behind them,
// leaving out the listener's own pool and the pools in front of it.
func resolveSpill(o *obj, v *value, cfg *Config, name string, port uint16) {
	i := slices.IndexFunc(cfg.Proxies, func(p Proxy) bool { return p.Name == name })
	if i < 0 {
		return
	}
	p := &cfg.Proxies[i]
	var svc *Service
	var all []string
	for _, z := range cfg.Zones {
		for j := range z.Services {
			all = append(all, strings.TrimSuffix(z.Services[j].Name, "."))
			if z.Services[j].Name == p.SpillService {
				svc = &z.Services[j]
			}
		}
	}
	if svc == nil {
		o.problem(v, "spill_service", "%s", undefined("service", strings.TrimSuffix(p.SpillService, "."), all))
		return
	}
	for _, pn := range svc.Pools {
		pl, ok := cfg.Pool(pn)
		if !ok || pn == p.Pool || pl.Fronts != "" && pl.Fronts == p.Pool || holds(pl, p.Listen.Addr()) {
			continue
		}
		target := pn
		if pl.Fronts != "" {
			target = pl.Fronts
		}
		if target == p.Pool || slices.ContainsFunc(p.Spill, func(s ProxySpill) bool { return s.Pool == target }) {
			continue
		}
		p.Spill = append(p.Spill, ProxySpill{Pool: target, Port: port})
	}
	if len(p.Spill) == 0 {
		o.problem(v, "spill_service", "service %s has no pool besides this listener's own to spill to (pools: %s)",
			strings.TrimSuffix(svc.Name, "."), strings.Join(svc.Pools, ", "))
	}
}

// holds reports whether pool p has an endpoint at a.
func holds(p Pool, a netip.Addr) bool {
	return slices.ContainsFunc(p.Endpoints, func(e Endpoint) bool { return e.Addr == a.Unmap() })
}

// decodeFronts reads a pool's fronts: the pool whose backends the proxies at this pool's
// endpoints balance over. pools is the [pools] table, for the names it holds.
func decodeFronts(po *obj, pools *obj, self string) string {
	f, fv := po.String("fronts", "")
	if fv == nil {
		return ""
	}
	other := pools.t.m[f]
	switch {
	case f == self:
		po.problem(fv, "fronts", "a pool cannot front itself: name the pool of backends its proxies balance over")
	case other == nil || other.kind != kTable:
		po.problem(fv, "fronts", "%s", undefined("pool", f, pools.t.keys))
	case other.table != nil && other.table.m["fronts"] != nil:
		po.problem(fv, "fronts", "pool %q fronts proxies itself: name the pool of backends", f)
	default:
		return f
	}
	return ""
}
