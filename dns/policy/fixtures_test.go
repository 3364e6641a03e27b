package policy

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/health"
)

// healthMap is a HealthView over a map: endpoints not in it are Unknown.
type healthMap map[string]health.State

func (h healthMap) State(id string) health.State { return h[id] }

// rttMap is a LatencySource with one RTT per region, the same for every client.
type rttMap map[string]time.Duration

func (m rttMap) RTT(_ Client, region string) (time.Duration, bool) {
	rtt, ok := m[region]
	return rtt, ok
}

// The three regions of the examples: Ashburn, Frankfurt, Singapore.
func naRegion() *Region {
	return &Region{Name: "na", Lat: 38.9, Lon: -77.4, HasCoords: true, Continents: []string{"NA", "SA"}, Countries: []string{"US", "CA"}, Subdivisions: []string{"US-VA"}}
}

func euRegion() *Region {
	return &Region{Name: "eu", Lat: 50.1, Lon: 8.7, HasCoords: true, Continents: []string{"EU", "AF"}, Countries: []string{"DE"}}
}

func apRegion() *Region {
	return &Region{Name: "ap", Lat: 1.35, Lon: 103.8, HasCoords: true, Continents: []string{"AS", "OC"}, Countries: []string{"SG"}}
}

// newPool is a pool named name-web with one enabled endpoint of weight 1 per address, IDs
// "name-web/addr", MinHealthy 1.
func newPool(name string, r *Region, addrs ...string) *Pool {
	p := &Pool{Name: name + "-web", Region: r, MinHealthy: 1}
	for _, a := range addrs {
		p.Endpoints = append(p.Endpoints, Endpoint{ID: p.Name + "/" + a, Addr: netip.MustParseAddr(a), Weight: 1, Enabled: true})
	}
	return p
}

// world is na, eu and ap with two IPv4 endpoints each, and an IPv6 one in eu only.
func world() (na, eu, ap *Pool) {
	na = newPool("na", naRegion(), "127.0.1.1", "127.0.1.2")
	eu = newPool("eu", euRegion(), "127.0.2.1", "127.0.2.2", "2001:db8::21")
	ap = newPool("ap", apRegion(), "127.0.3.1", "127.0.3.2")
	return na, eu, ap
}

func newService(o Order, s Select, pools ...*Pool) *Service {
	return &Service{Name: "www", Order: o, Select: s, Pools: pools, Answers: 1}
}

// located is a client in 192.0.2.0/24 at the given place.
func located(continent, country, subdivision string, lat, lon float64) Client {
	return Client{
		Addr:    netip.MustParseAddr("192.0.2.10"),
		Loc:     Location{Continent: continent, Country: country, Subdivision: subdivision, Lat: lat, Lon: lon, HasCoords: lat != 0 || lon != 0},
		Located: true,
	}
}

// down marks the given endpoint IDs Down.
func down(ids ...string) healthMap {
	h := healthMap{}
	for _, id := range ids {
		h[id] = health.Down
	}
	return h
}

// poolDown marks every endpoint of the pools Down.
func poolDown(ps ...*Pool) healthMap {
	h := healthMap{}
	for _, p := range ps {
		for _, e := range p.Endpoints {
			h[e.ID] = health.Down
		}
	}
	return h
}

// tiers runs filter and order and returns the pool names of each tier.
func tiers(t *testing.T, r Request) [][]string {
	t.Helper()
	d := decider{r: r}
	ps := d.filter(nil)
	d.order(ps)
	var out [][]string
	for i, p := range ps {
		if i == 0 || p.tier != ps[i-1].tier {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], strings.TrimSuffix(p.pool.Name, "-web"))
	}
	return out
}

func addrStrings(as []netip.Addr) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

// sameSet reports whether a and b hold the same strings in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
