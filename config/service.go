package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Words the service keys accept. The policy package defines what they do.
var (
	policyWords  = []string{"failover", "geo", "proximity", "latency", "weighted", "random", "hash"}
	selectWords  = []string{"weighted", "random", "hash"}
	allDownWords = []string{"all", "fallback", "nodata", "servfail"}
)

// gslb is what services are checked against.
type gslb struct {
	geo     Geo
	regions map[string]Region
	pools   map[string]Pool
	names   []string // pool names, sorted
}

func newGSLB(g Geo, regions []Region, pools []Pool) *gslb {
	m := &gslb{geo: g, regions: map[string]Region{}, pools: map[string]Pool{}}
	for _, r := range regions {
		m.regions[r.Name] = r
	}
	for _, p := range pools {
		m.pools[p.Name] = p
		m.names = append(m.names, p.Name)
	}
	return m
}

// decodeServices reads [zones."origin".services.NAME] tables.
func decodeServices(zo *obj, z Zone, g *gslb) []Service {
	so := zo.Table("services")
	if so == nil {
		return nil
	}
	var out []Service
	so.Each(func(key string, o *obj) {
		if s, ok := decodeService(o, key, z, g); ok {
			if i := slices.IndexFunc(out, func(x Service) bool { return x.Name == s.Name }); i >= 0 {
				o.d.add(o.pos, o.path, fmt.Sprintf("service %s is already defined on line %d", s.Name, out[i].Line))
				return
			}
			out = append(out, s)
		}
	})
	so.Done()
	slices.SortFunc(out, func(a, b Service) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func decodeService(o *obj, key string, z Zone, g *gslb) (Service, bool) {
	defer o.Done()
	s := Service{Line: o.pos.line}
	name, ok := absName(key, z.Origin)
	switch {
	case !ok || strings.Contains(name, "*"):
		o.d.add(o.pos, o.path, fmt.Sprintf("%q is not a valid service name (\"@\", \"www\", or an absolute name in the zone)", key))
		return s, false
	case !dns.IsSubDomain(z.Origin, name):
		o.d.add(o.pos, o.path, fmt.Sprintf("%s is outside the zone %s", name, z.Origin))
		return s, false
	}
	s.Name = name
	policy, pv := o.Word("policy", "failover", policyWords...)
	sel, sv := o.Word("select", "weighted", selectWords...)
	switch policy {
	case "weighted", "random", "hash": // shorthand: pools in order, this selection inside them
		if sv != nil && sel != policy {
			o.problem(sv, "select", "policy %q already selects by %s; use policy = \"failover\" with select = %q", policy, policy, sel)
		}
		policy, sel = "failover", policy
	}
	s.Policy, s.Select = policy, sel
	s.TTL, _ = o.Seconds("ttl", 30)
	dt, dv := o.Seconds("degraded_ttl", s.TTL)
	if dv != nil && dt > s.TTL {
		o.problem(dv, "degraded_ttl", "%ds is longer than the ttl (%ds): it is meant to be shorter", dt, s.TTL)
		dt = s.TTL
	}
	s.DegradedTTL = dt
	n, _ := o.Int("answers", 1, 1, 8)
	s.Answers = int(n)
	s.IgnoreECS, _ = o.Bool("ignore_ecs", false)
	s.Tolerance, _ = o.Float("tolerance", 0.05, 0, 1)
	s.OnAllDown, _ = o.Word("on_all_down", "all", allDownWords...)

	names, vals, pvs := o.Strings("pools")
	for i, p := range names {
		at := fmt.Sprintf("pools[%d]", i)
		switch {
		case slices.Contains(s.Pools, p):
			o.problem(vals[i], at, "pool %q is listed twice", p)
		case !hasPool(g, p):
			o.problem(vals[i], at, "%s", undefined("pool", p, g.names))
		default:
			s.Pools = append(s.Pools, p)
		}
	}
	if len(names) == 0 && (pvs == nil || pvs.kind == kArray) {
		o.problem(pvs, "pools", "at least one pool is needed (e.g. pools = [\"eu\", \"us\"])")
	}
	fb, fv := o.String("fallback", "")
	switch {
	case fv == nil:
	case !hasPool(g, fb):
		o.problem(fv, "fallback", "%s", undefined("pool", fb, g.names))
	default:
		s.Fallback = fb
	}
	if s.OnAllDown == "fallback" && fv == nil {
		o.problem(o.t.m["on_all_down"], "on_all_down", "\"fallback\" needs a fallback pool (fallback = \"POOL\")")
	}
	switch s.Policy {
	case "geo", "proximity", "latency":
		if len(g.geo.Databases) == 0 && len(g.geo.Nets) == 0 && (s.Policy != "latency" || g.geo.Latency == "") {
			o.problem(pv, "policy", "policy %q locates clients, which needs [geo] databases = [\"GeoLite2-City.mmdb\"] or [geo.nets]", s.Policy)
		}
	}
	if s.Policy == "proximity" || s.Policy == "latency" {
		for i, p := range s.Pools {
			if r, ok := g.regions[g.pools[p].Region]; ok && !r.HasCoords {
				o.problem(vals[i], fmt.Sprintf("pools[%d]", i), "policy %q needs coordinates: region %q of pool %q has no lat/lon", s.Policy, r.Name, p)
			}
		}
	}
	return s, true
}

func hasPool(g *gslb, name string) bool { _, ok := g.pools[name]; return ok }

// checkServices rejects names that both a service and static records answer for address
// queries, and services at or below a delegation.
func checkServices(zo *obj, z Zone) {
	so := zo.t.m["services"]
	if so == nil || so.kind != kTable {
		return
	}
	for _, s := range z.Services {
		sv := so.table.m[serviceKey(so.table, s, z.Origin)]
		p := zo.pos
		if sv != nil {
			p = sv.pos
		}
		path := joinPath(zo.path, "services")
		for _, r := range z.Records {
			switch {
			case r.Name == s.Name && (r.Type == "A" || r.Type == "AAAA" || r.Type == "CNAME"):
				zo.d.add(p, path, fmt.Sprintf("service %s: the static %s record on line %d has the same name; a service owns its name's A and AAAA answers", s.Name, r.Type, r.Line))
			case r.Type == "NS" && r.Name != z.Origin && dns.IsSubDomain(r.Name, s.Name):
				zo.d.add(p, path, fmt.Sprintf("service %s is at or below the delegation %s (line %d)", s.Name, r.Name, r.Line))
			}
		}
	}
}

// serviceKey finds the key a service was written under.
func serviceKey(t *table, s Service, origin string) string {
	for _, k := range t.keys {
		if n, ok := absName(k, origin); ok && n == s.Name {
			return k
		}
	}
	return ""
}
