package dns

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/dns/policy"
	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/geo/netmap"
)

// ECS scopes as wide as the answer allows. A geo or proximity decision depends on the client's
// location only through the order of its pools, so after a config or database load every
// network of the geo database is classified by that order and neighbours of one class are
// merged (geo/netmap): the scope is then the widest prefix over which the order, and so the
// answer, is the same — /14 for 8.8.8.0/24 on GeoLite2-City with a continent map, as gdnsd
// answers, where the database network alone gives /17. The maps build in the background, all
// in one walk over every core (about a second on GeoLite2-City); until they are ready, and
// where a map cannot tell, the scope is the database network's prefix.

// classes is a service's scope map and, for each class of clients in it, the filter and order
// steps of its decisions, prepared for IPv4 and IPv6: a query from a client of a known class
// skips the geo lookup and the ordering.
type classes struct {
	m        *netmap.Map
	prepared map[string]*[2]*policy.Prepared // by class (OrderKey)
}

// lookup returns the prepared order for a's class and the widest prefix around a with that
// class, or nil when the map cannot tell.
func (c *classes) lookup(a netip.Addr, family int) (*policy.Prepared, int) {
	class, bits := c.m.Lookup(a)
	p := c.prepared[class]
	if p == nil || bits < 0 {
		return nil, -1
	}
	return p[family/6], bits // 4 → 0, 6 → 1
}

// scopeShape is what a service's location-based order depends on: the order, the tolerance
// and, per configured pool, its region and whether it has enabled endpoints of each family.
// Services alike in these have the same order key at every location (a key names pools by
// their position), so one map serves them all: at the design's 10,000 services over 1,000
// pools the pool lists are thousands but the shapes a few hundred (a shape per pool list made
// the walk classify every network thousands of times: minutes on both cores, not a second).
func scopeShape(s *policy.Service) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%g", s.Order, s.Tolerance)
	for _, p := range s.Pools {
		b.WriteByte('|')
		if p == nil {
			b.WriteByte('-')
			continue
		}
		if p.Region != nil {
			b.WriteString(p.Region.Name)
		}
		has4, has6 := families(p)
		fmt.Fprintf(&b, "/%t/%t", has4, has6)
	}
	return b.String()
}

// families reports whether p has enabled IPv4 and IPv6 endpoints (what the order's filter
// looks at).
func families(p *policy.Pool) (has4, has6 bool) {
	for _, e := range p.Endpoints {
		if e.Enabled {
			a := e.Addr.Unmap()
			has4, has6 = has4 || a.Is4(), has6 || a.Is6()
		}
	}
	return has4, has6
}

// classifier stands in for s in the walk: the same order, tolerance and regions, and per pool
// one endpoint of each family it has, so that each of the walk's order keys (the same as s's)
// does not look at every endpoint of every pool (100 a pool at the design's scale).
func classifier(s *policy.Service) *policy.Service {
	c := &policy.Service{Name: s.Name, Order: s.Order, Select: s.Select, Answers: s.Answers, OnAllDown: s.OnAllDown, Tolerance: s.Tolerance}
	for _, p := range s.Pools {
		if p == nil {
			c.Pools = append(c.Pools, nil)
			continue
		}
		q := &policy.Pool{Name: p.Name, Region: p.Region, MinHealthy: p.MinHealthy, MaxInFlight: p.MaxInFlight}
		has4, has6 := families(p)
		if has4 {
			q.Endpoints = append(q.Endpoints, policy.Endpoint{ID: p.Name + "/v4", Addr: netip.IPv4Unspecified(), Weight: 1, Enabled: true})
		}
		if has6 {
			q.Endpoints = append(q.Endpoints, policy.Endpoint{ID: p.Name + "/v6", Addr: netip.IPv6Unspecified(), Weight: 1, Enabled: true})
		}
		c.Pools = append(c.Pools, q)
	}
	return c
}

// buildScopes builds the maps of every service of s whose order depends on location, one per
// shape, in one walk of the geo database, and publishes them on their services. It stops
// early when ctx ends (a newer snapshot or database took over).
func (h *Handler) buildScopes(ctx context.Context, s *snapshot, done chan struct{}) {
	defer close(done)
	db, ok := s.geo.(*geo.DB)
	if !ok || db == nil {
		return
	}
	shapes := map[string][]*service{}
	var order []string
	for _, svc := range s.services {
		if _, ok := policy.OrderKey(svc.p, policy.Location{}, false); !ok {
			continue // failover (location-free) and latency (depends on more than location)
		}
		k := scopeShape(svc.p)
		if shapes[k] == nil {
			order = append(order, k)
		}
		shapes[k] = append(shapes[k], svc)
	}
	if len(order) == 0 {
		return
	}
	// One walk of the database classifies for every shape, on every core.
	classify := make([]func(geo.Location) string, len(order))
	for i, k := range order {
		p := classifier(shapes[k][0].p)
		classify[i] = func(l geo.Location) string {
			key, _ := policy.OrderKey(p, policyLocation(l), l.Found())
			return key
		}
	}
	ws := make([]netmap.Walker, runtime.GOMAXPROCS(0))
	for i, w := range db.Walkers(len(ws)) {
		ws[i] = w
	}
	start := time.Now()
	maps, err := netmap.BuildAll(ctx, ws, classify)
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("ECS scope maps not built; scopes stay the geo networks' prefixes", "shapes", len(order), "err", err)
		}
		return
	}
	took := time.Since(start).Round(time.Millisecond)
	for i, k := range order {
		m, svcs := maps[i], shapes[k]
		for _, svc := range svcs {
			// Each class's order is prepared from the first location of the class in the walk.
			c := &classes{m: m, prepared: map[string]*[2]*policy.Prepared{}}
			for key, l := range m.Examples {
				c.prepared[key] = &[2]*policy.Prepared{
					policy.Prepare(svc.p, policyLocation(l), l.Found(), 4),
					policy.Prepare(svc.p, policyLocation(l), l.Found(), 6),
				}
			}
			svc.classes.Store(c)
		}
		h.log.Info("ECS scope map ready", "services", len(svcs), "classes", m.Classes(), "nodes", m.Nodes(),
			"bytes", m.Bytes(), "took", took)
	}
}

// rescope starts building the scope maps of the current snapshot, stopping any build for an
// older one. The caller holds h.mu.
func (h *Handler) rescope() {
	if h.stopScopes != nil {
		h.stopScopes()
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.stopScopes = cancel
	s := h.snap.Load()
	for _, svc := range s.services {
		svc.classes.Store(nil) // the database may have changed under the old maps
	}
	h.scopesDone = make(chan struct{})
	go h.buildScopes(ctx, s, h.scopesDone)
}

// WaitScopes waits until the ECS scope maps of the current config and databases are built
// (or their build gave up), or ctx ends.
func (h *Handler) WaitScopes(ctx context.Context) error {
	h.mu.Lock()
	done := h.scopesDone
	h.mu.Unlock()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func policyLocation(l geo.Location) policy.Location {
	return policy.Location{
		Continent: l.Continent, Country: l.Country, Subdivision: l.Subdivision,
		Lat: l.Lat, Lon: l.Lon, HasCoords: l.HasCoords,
	}
}
