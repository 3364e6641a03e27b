package dns

import (
	"fmt"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns/policy"
	"github.com/meridian-gslb/meridian/geo"
)

// Locator finds where an address is; *geo.DB is one. A nil Locator locates nobody.
type Locator interface {
	Locate(ip netip.Addr) geo.Location
}

// service is one load-balanced name as the query path needs it: the policy's view of its pools
// and what the answer carries around the addresses.
type service struct {
	p         *policy.Service
	name      string // owner of the A/AAAA records
	ttl       uint32
	ignoreECS bool
	decisions [3]prometheus.Counter // by policy.Outcome
}

// buildServices turns the config's regions, pools and services into policy values, once per
// snapshot, keyed by the service's owner name.
func buildServices(cfg *config.Config, m *metrics) (map[string]*service, error) {
	regions := map[string]*policy.Region{}
	for _, r := range cfg.Regions {
		regions[r.Name] = &policy.Region{
			Name: r.Name, Lat: r.Lat, Lon: r.Lon, HasCoords: r.HasCoords, Bias: r.Bias,
			Continents: r.Continents, Countries: r.Countries, Subdivisions: r.Subdivisions,
		}
	}
	pools := map[string]*policy.Pool{}
	for _, p := range cfg.Pools {
		pp := &policy.Pool{Name: p.Name, Region: regions[p.Region], MinHealthy: p.MinHealthy}
		for _, e := range p.Endpoints {
			pp.Endpoints = append(pp.Endpoints, policy.Endpoint{
				ID: p.Name + "/" + e.Addr.String(), Addr: e.Addr, Weight: e.Weight, Enabled: e.Enabled,
			})
		}
		pools[p.Name] = pp
	}
	out := map[string]*service{}
	for _, z := range cfg.Zones {
		for _, c := range z.Services {
			order, err := policy.ParseOrder(c.Policy)
			if err != nil {
				return nil, fmt.Errorf("service %s: %w", c.Name, err)
			}
			sel, err := policy.ParseSelect(c.Select)
			if err != nil {
				return nil, fmt.Errorf("service %s: %w", c.Name, err)
			}
			down, err := policy.ParseAllDown(c.OnAllDown)
			if err != nil {
				return nil, fmt.Errorf("service %s: %w", c.Name, err)
			}
			ps := &policy.Service{
				Name: c.Name, Order: order, Select: sel, Answers: c.Answers,
				Fallback: pools[c.Fallback], OnAllDown: down, Tolerance: c.Tolerance,
			}
			for _, name := range c.Pools {
				ps.Pools = append(ps.Pools, pools[name])
			}
			s := &service{p: ps, name: c.Name, ttl: c.TTL, ignoreECS: c.IgnoreECS}
			for o := range s.decisions {
				s.decisions[o] = m.decisions.WithLabelValues(c.Name, c.Policy, policy.Outcome(o).String())
			}
			out[c.Name] = s
		}
	}
	return out, nil
}

// ecsInfo is the client subnet a query carried (RFC 7871), when it had a valid one.
type ecsInfo struct {
	prefix netip.Prefix // the source address masked to the source prefix length
	ok     bool
}

// decision is one policy decision plus what led to it and what the reply says about it.
type decision struct {
	policy.Decision
	svc     *service
	client  policy.Client
	loc     geo.Location
	source  string // "ecs", "socket"
	ecsUsed bool
	scope   uint8 // ECS scope prefix length for the reply
}

// decide runs the service's policy for one client. Queries and `meridian explain` both come
// through here, so explain shows what the server does.
func (s *snapshot) decide(svc *service, family int, src netip.Addr, ecs ecsInfo, explain bool) decision {
	d := decision{source: "socket"}
	addr := src.Unmap()
	if ecs.ok && !svc.ignoreECS && public(ecs.prefix.Addr()) {
		addr, d.source, d.ecsUsed = ecs.prefix.Addr(), "ecs", true
	}
	if s.geo != nil {
		d.loc = s.geo.Locate(addr)
	}
	d.client = policy.Client{
		Addr: addr,
		Loc: policy.Location{
			Continent: d.loc.Continent, Country: d.loc.Country, Subdivision: d.loc.Subdivision,
			Lat: d.loc.Lat, Lon: d.loc.Lon, HasCoords: d.loc.HasCoords,
		},
		Located: d.loc.Found(),
	}
	req := policy.Request{Service: svc.p, Client: d.client, Family: family, Explain: explain}
	if s.latency != nil {
		req.Latency = s.latency
	}
	d.Decision = policy.Decide(req)
	if d.ecsUsed {
		d.scope = scope(d.Decision, d.loc, ecs.prefix.Bits())
	}
	return d
}

// scope is the ECS scope prefix length of a reply: 0 when the answer is the same for every
// client, else how much of the client's address it depended on, never more than the query's
// source prefix (RFC 7871 §7.2.1).
func scope(d policy.Decision, loc geo.Location, source int) uint8 {
	bits := 0
	switch d.Depends {
	case policy.Nothing:
		return 0
	case policy.OnLocation:
		bits = source // not in the database: the answer holds for this subnet only
		if loc.Prefix.IsValid() {
			bits = loc.Prefix.Bits()
		}
		bits = max(bits, d.SubnetBits)
	case policy.OnSubnet:
		bits = d.SubnetBits
	}
	return uint8(min(bits, source))
}

// public reports whether an ECS address says anything about where a client is: private,
// loopback and other special ranges do not (the resolver's own address is used instead).
func public(a netip.Addr) bool {
	return a.IsValid() && a.IsGlobalUnicast() && !a.IsPrivate()
}
