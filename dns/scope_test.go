package dns

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/meridian-gslb/meridian/dns/policy"
	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/geo/geotest"
	"github.com/meridian-gslb/meridian/geo/netmap"
)

// TestScopeMapsPerService: the maps that buildScopes builds for all shapes in one walk are,
// for every service, the map of its own classification built alone, with every class's
// order prepared from the class's first location in the walk.
func TestScopeMapsPerService(t *testing.T) {
	h := newGSLBHandler(t, writeGSLB(t))
	s := h.snap.Load()
	db := s.geo.(*geo.DB)
	n := 0
	for name, svc := range s.services {
		c := svc.classes.Load()
		if _, ok := policy.OrderKey(svc.p, policy.Location{}, false); !ok {
			if c != nil {
				t.Errorf("%s: a scope map for an order that does not depend on location", name)
			}
			continue
		}
		if c == nil {
			t.Errorf("%s: no scope map", name)
			continue
		}
		n++
		checkOwnMap(t, db, name, svc)
	}
	if n < 4 {
		t.Errorf("checked %d services, want the fixture's geo and proximity ones", n)
	}
}

// checkOwnMap: svc's scope map is the map of its own classification built alone, with every
// class's order prepared from the class's first location in the walk.
func checkOwnMap(t *testing.T, db *geo.DB, name string, svc *service) {
	t.Helper()
	c := svc.classes.Load()
	want, err := netmap.Build(context.Background(), []netmap.Walker{db.Walkers(1)[0]}, func(l geo.Location) string {
		key, _ := policy.OrderKey(svc.p, policyLocation(l), l.Found())
		return key
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.m, want) {
		t.Errorf("%s: scope map differs from the service's own: %d nodes, %d classes; want %d, %d",
			name, c.m.Nodes(), c.m.Classes(), want.Nodes(), want.Classes())
	}
	for key, l := range want.Examples {
		p := c.prepared[key]
		if p == nil {
			t.Errorf("%s: class %q not prepared", name, key)
			continue
		}
		for i, fam := range []int{4, 6} {
			if w := policy.Prepare(svc.p, policyLocation(l), l.Found(), fam); !reflect.DeepEqual(p[i], w) {
				t.Errorf("%s: class %q, IPv%d: prepared %+v, want %+v", name, key, fam, p[i], w)
			}
		}
	}
}

// TestScopeShapesShared: services whose pools differ but sit in the same regions, in the same
// order, with the same address families, share one scope map (one classification in the walk);
// another order of the regions, or a pool without IPv6, is a shape of its own. Every service's
// map is still the one its own pools give, and its classes' orders are prepared from its own
// pools (checkOwnMap).
func TestScopeShapesShared(t *testing.T) {
	dir := t.TempDir()
	geotest.WriteCity(t, filepath.Join(dir, "city.mmdb"), []geotest.Net{
		{CIDR: "81.2.64.0/20", Continent: "EU", Country: "GB", Lat: 51.5, Lon: -0.1},
		{CIDR: "8.8.8.0/24", Continent: "NA", Country: "US", Lat: 37.75, Lon: -97.8},
		{CIDR: "1.0.16.0/20", Continent: "AS", Country: "JP", Lat: 35.69, Lon: 139.69},
	})
	conf := `[geo]
databases = ["city.mmdb"]
[regions.na]
lat = 38.9
lon = -77.4
continents = ["NA"]
[regions.eu]
lat = 50.1
lon = 8.7
continents = ["EU"]
[pools.na1]
region = "na"
endpoints = [{ address = "192.0.2.1" }, { address = "2001:db8::1" }]
[pools.na2]
region = "na"
endpoints = [{ address = "192.0.2.2" }, { address = "2001:db8::2" }, { address = "192.0.2.3" }]
[pools.na4]
region = "na"
endpoints = [{ address = "192.0.2.4" }]
[pools.eu1]
region = "eu"
endpoints = [{ address = "198.51.100.1" }, { address = "2001:db8:1::1" }]
[pools.eu2]
region = "eu"
endpoints = [{ address = "198.51.100.2" }, { address = "2001:db8:1::2" }]
[zones."shape.test"]
ns = ["ns1"]
[[zones."shape.test".records]]
name = "ns1"
type = "A"
data = "127.0.0.1"
[zones."shape.test".services.a]
policy = "geo"
pools = ["na1", "eu1"]
[zones."shape.test".services.b]
policy = "geo"
pools = ["na2", "eu2"]
[zones."shape.test".services.c]
policy = "geo"
pools = ["eu1", "na1"]
[zones."shape.test".services.d]
policy = "geo"
pools = ["na4", "eu2"]
`
	path := filepath.Join(dir, "shape.toml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newGSLBHandler(t, path)
	s := h.snap.Load()
	db := s.geo.(*geo.DB)
	svc := func(n string) *service { return s.services[n+".shape.test."] }
	for _, n := range []string{"a", "b", "c", "d"} {
		if svc(n).classes.Load() == nil {
			t.Fatalf("%s: no scope map", n)
		}
		checkOwnMap(t, db, n, svc(n))
	}
	m := func(n string) *netmap.Map { return svc(n).classes.Load().m }
	if m("a") != m("b") {
		t.Error("a and b (pools in na then eu, both families) have maps of their own, want one shared")
	}
	if m("a") == m("c") {
		t.Error("c (eu then na) shares a's map")
	}
	if m("a") == m("d") {
		t.Error("d (an IPv4-only pool first) shares a's map")
	}
}
