package dns

import (
	"context"
	"reflect"
	"testing"

	"github.com/meridian-gslb/meridian/dns/policy"
	"github.com/meridian-gslb/meridian/geo"
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
	if n < 4 {
		t.Errorf("checked %d services, want the fixture's geo and proximity ones", n)
	}
}
