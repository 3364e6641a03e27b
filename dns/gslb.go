package dns

import (
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

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
	degraded  uint32 // TTL of degraded answers
	ignoreECS bool
	decisions [3]prometheus.Counter // by policy.Outcome
	counts    answerCounts          // answered queries by pool, for the dashboard (stats.go)
	// bound is how long a failed endpoint can stay in clients' answers: its monitor's detection
	// time (interval × fall + timeout) plus the TTL; 0 when no pool of the service is monitored.
	bound     time.Duration
	boundText string // how bound is made, for explain
	// fronts are the pools that front proxies, and proxyBound the bound for clients through
	// them: detection only, as the proxies spill (spill.go); 0 and "" without such a pool.
	fronts         []fronted
	proxyBound     time.Duration
	proxyBoundText string
	// recently: an endpoint whose state changed less than this ago (3 × its monitor's
	// interval) still makes answers degraded, so clients return soon while things move.
	recently time.Duration
	// classes is the merged ECS scope map of this service's order and the orders prepared per
	// class of clients, once built (scope.go).
	classes atomic.Pointer[classes]
}

// buildServices turns the config's regions, pools and services into policy values, once per
// snapshot, keyed by the service's owner name.
func buildServices(cfg *config.Config, m *metrics) (map[string]*service, *nets, error) {
	regions := map[string]*policy.Region{}
	for _, r := range cfg.Regions {
		regions[r.Name] = &policy.Region{
			Name: r.Name, Lat: r.Lat, Lon: r.Lon, HasCoords: r.HasCoords, Bias: r.Bias,
			Continents: r.Continents, Countries: r.Countries, Subdivisions: r.Subdivisions,
		}
	}
	pools := map[string]*policy.Pool{}
	for _, p := range cfg.Pools {
		pp := &policy.Pool{Name: p.Name, Region: regions[p.Region], MinHealthy: p.MinHealthy, MaxInFlight: p.MaxInFlight}
		for _, e := range p.Endpoints {
			pp.Endpoints = append(pp.Endpoints, policy.Endpoint{
				ID: p.EndpointID(e), Addr: e.Addr, Weight: e.Weight, Enabled: e.Enabled,
				AwaitRise: p.AwaitsRise(e), Dynamic: e.Dynamic,
			})
		}
		pools[p.Name] = pp
	}
	out := map[string]*service{}
	for _, z := range cfg.Zones {
		for _, c := range z.Services {
			order, err := policy.ParseOrder(c.Policy)
			if err != nil {
				return nil, nil, fmt.Errorf("service %s: %w", c.Name, err)
			}
			sel, err := policy.ParseSelect(c.Select)
			if err != nil {
				return nil, nil, fmt.Errorf("service %s: %w", c.Name, err)
			}
			down, err := policy.ParseAllDown(c.OnAllDown)
			if err != nil {
				return nil, nil, fmt.Errorf("service %s: %w", c.Name, err)
			}
			ps := &policy.Service{
				Name: c.Name, Order: order, Select: sel, Answers: c.Answers,
				Fallback: pools[c.Fallback], OnAllDown: down, Tolerance: c.Tolerance,
			}
			for _, name := range c.Pools {
				ps.Pools = append(ps.Pools, pools[name])
			}
			s := &service{p: ps, name: c.Name, ttl: c.TTL, degraded: c.DegradedTTL, ignoreECS: c.IgnoreECS}
			s.counts.answers = make([]atomic.Uint64, len(ps.Pools)+1)
			s.bound, s.boundText = failoverBound(cfg, c)
			s.fronts = frontedPools(cfg, c, pools)
			s.proxyBound, s.proxyBoundText = proxyBound(cfg, s.fronts)
			s.recently = 3 * slowestInterval(cfg, c)
			for o := range s.decisions {
				s.decisions[o] = m.decisions.WithLabelValues(c.Name, c.Policy, policy.Outcome(o).String())
			}
			out[c.Name] = s
		}
	}
	return out, buildNets(cfg, regions), nil
}

// nets is the [geo] nets override: client networks placed in regions by the operator.
type nets struct {
	bits    []int // prefix lengths present, longest first
	regions map[netip.Prefix]*policy.Region
}

func buildNets(cfg *config.Config, regions map[string]*policy.Region) *nets {
	n := &nets{regions: map[netip.Prefix]*policy.Region{}}
	for _, e := range cfg.Geo.Nets {
		n.regions[e.Prefix] = regions[e.Region]
		bits := e.Prefix.Bits()
		if e.Prefix.Addr().Is4() {
			bits += 96 // one list for both families: IPv4 prefixes are looked up as mapped
		}
		if !slices.Contains(n.bits, bits) {
			n.bits = append(n.bits, bits)
		}
	}
	slices.Sort(n.bits)
	slices.Reverse(n.bits)
	return n
}

// lookup returns the region of the longest override prefix holding a, and that prefix.
func (n *nets) lookup(a netip.Addr) (*policy.Region, netip.Prefix) {
	if n == nil || len(n.bits) == 0 {
		return nil, netip.Prefix{}
	}
	for _, bits := range n.bits {
		var p netip.Prefix
		if a.Is4() {
			if bits < 96 {
				continue
			}
			p, _ = a.Prefix(bits - 96)
		} else {
			if bits > 128 {
				continue
			}
			p, _ = a.Prefix(bits)
		}
		if r, ok := n.regions[p]; ok {
			return r, p
		}
	}
	return nil, netip.Prefix{}
}

// failoverBound is the longest time a failed endpoint of svc can stay in answers: the slowest
// of its pools' monitors to see the failure (interval × fall + timeout) plus the TTL clients
// cache the answer for.
func failoverBound(cfg *config.Config, svc config.Service) (time.Duration, string) {
	var worst time.Duration
	var how string
	for _, m := range cfg.PoolMonitors(append(slices.Clone(svc.Pools), svc.Fallback)...) {
		if d := m.Interval*time.Duration(m.Fall) + m.Timeout; d > worst {
			worst = d
			how = fmt.Sprintf("monitor %s: interval %v × fall %d + timeout %v", m.Name, m.Interval, m.Fall, m.Timeout)
		}
	}
	if worst == 0 {
		return 0, "no monitor: endpoints are never taken out of answers"
	}
	ttl := time.Duration(svc.TTL) * time.Second
	return worst + ttl, fmt.Sprintf("%v (%s, + ttl %v)", worst+ttl, how, ttl)
}

// slowestInterval is the longest monitor interval among the service's pools, 0 without one.
func slowestInterval(cfg *config.Config, svc config.Service) time.Duration {
	var worst time.Duration
	for _, m := range cfg.PoolMonitors(svc.Pools...) {
		worst = max(worst, m.Interval)
	}
	return worst
}

// ttlFor is the TTL of an answer: shorter while it is degraded (state-aware TTL, as gdnsd does).
func (s *service) ttlFor(d policy.Decision) uint32 {
	if d.Degraded {
		return s.degraded
	}
	return s.ttl
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
// through here, so explain shows what the server does. room, when not nil, holds the
// decision's addresses and pools (policy.DecideInto): the fast path's, from roomPool.
func (s *snapshot) decide(svc *service, family int, src netip.Addr, ecs ecsInfo, explain bool, room *policy.Room) decision {
	d := s.decideFor(svc, family, src, ecs, explain, room)
	if ecs.ok && !svc.ignoreECS && !d.ecsUsed && d.Depends != policy.Nothing {
		// A private (or otherwise non-public) ECS subnet is not located: the resolver's own
		// address decided. Scope /0 would tell the resolver the answer holds for every client of
		// it; the answer it holds for is the one this subnet got, so scope it to the subnet.
		d.scope = uint8(ecs.prefix.Bits())
	}
	return d
}

// decideFor is decide before the scope of an ECS subnet it did not use.
func (s *snapshot) decideFor(svc *service, family int, src netip.Addr, ecs ecsInfo, explain bool, room *policy.Room) decision {
	d := decision{source: "socket"}
	addr := src.Unmap()
	if ecs.ok && !svc.ignoreECS && public(ecs.prefix.Addr()) {
		addr, d.source, d.ecsUsed = ecs.prefix.Addr(), "ecs", true
	}
	region, override := s.nets.lookup(addr)
	req := policy.Request{Service: svc.p, Family: family, Explain: explain}
	if s.health != nil {
		req.Health = s.health() // one View for the whole decision
	}
	if req.Health != nil && svc.recently > 0 {
		req.Recently, req.Now = svc.recently, time.Now()
	}
	if s.latency != nil {
		req.Latency = s.latency
	}
	if s.load != nil {
		req.Load = s.load // before the class path: DecidePrepared walks with it too
	}
	if c := svc.classes.Load(); c != nil && region == nil && !explain {
		// The usual path for geo and proximity services once their map is built: the client's
		// class gives its prepared order and the scope; no geo lookup, no ordering.
		if prep, bits := c.lookup(addr, family); prep != nil {
			req.Client = policy.Client{Addr: addr}
			d.client = req.Client
			d.Decision = policy.DecidePreparedInto(req, prep, room)
			if d.ecsUsed {
				d.loc.Prefix, _ = addr.Prefix(bits)
				d.scope = scope(d.Decision, d.loc, ecs.prefix.Bits())
			}
			return d
		}
	}
	switch {
	case region != nil: // the operator placed this network: its region, at the region's coordinates
		d.loc = geo.Location{Lat: region.Lat, Lon: region.Lon, HasCoords: region.HasCoords, Prefix: override}
	case s.geo != nil:
		d.loc = s.geo.Locate(addr)
	}
	d.client = policy.Client{Addr: addr, Loc: policyLocation(d.loc), Located: d.loc.Found() || region != nil}
	if region != nil {
		d.client.Loc.Region = region.Name
	}
	req.Client = d.client
	d.Decision = policy.DecideInto(req, room)
	if d.ecsUsed {
		loc := d.loc
		if c := svc.classes.Load(); c != nil && region == nil && d.Depends == policy.OnLocation {
			if _, bits := c.m.Lookup(addr); bits >= 0 {
				// The answer holds across the merged prefix: scope by it, not the geo network.
				loc.Prefix, _ = addr.Prefix(bits)
			}
		}
		if svc.p.Order == policy.Latency && loc.Prefix.IsValid() {
			// Measured RTTs can change at any CIDR of the table or at the prefixes proxies
			// measure: never scope wider.
			if fine := s.latency.finestBits(addr); fine > loc.Prefix.Bits() {
				loc.Prefix, _ = addr.Prefix(fine)
			}
		}
		d.scope = scope(d.Decision, loc, ecs.prefix.Bits())
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
