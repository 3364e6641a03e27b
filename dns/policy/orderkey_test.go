package policy

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestOrderKey(t *testing.T) {
	na, eu, ap := world()
	eu2 := newPool("eu2", &Region{Name: "eu2", Lat: 48.1, Lon: 11.6, HasCoords: true, Continents: []string{"EU"}, Countries: []string{"AT"}}, "127.0.4.1")
	geo := newService(Geo, Weighted, na, eu, ap, eu2)
	prox := newService(Proximity, Weighted, na, eu, ap)
	frankfurt := Location{Continent: "EU", Country: "DE", Lat: 50.1, Lon: 8.7, HasCoords: true}
	paris := Location{Continent: "EU", Country: "FR", Lat: 48.9, Lon: 2.35, HasCoords: true}
	tokyo := Location{Continent: "AS", Country: "JP", Lat: 35.7, Lon: 139.7, HasCoords: true}
	nowhere := Location{Continent: "AN", Country: "AQ"}
	type at struct {
		loc     Location
		located bool
	}
	tests := []struct {
		name string
		svc  *Service
		a, b at
		same bool
	}{
		{"geo: country match beats continent match", geo, at{frankfurt, true}, at{paris, true}, false}, // [eu] [eu2] … vs [eu, eu2] …
		{"geo: same country, other coordinates", geo, at{frankfurt, true}, at{Location{Continent: "EU", Country: "DE"}, true}, true},
		{"geo: two continent matches", geo, at{paris, true}, at{Location{Continent: "EU", Country: "IT"}, true}, true},
		{"geo: a continent only one region serves", geo, at{paris, true}, at{Location{Continent: "AF", Country: "NG"}, true}, false},
		{"geo: different continent", geo, at{paris, true}, at{tokyo, true}, false},
		{"geo: unlocated is configured order", geo, at{frankfurt, false}, at{Location{}, false}, true},
		{"geo: no match is configured order", geo, at{nowhere, true}, at{Location{}, false}, true},
		{"proximity: coordinates count, codes do not", prox, at{frankfurt, true}, at{Location{Continent: "NA", Lat: 50, Lon: 8.5, HasCoords: true}, true}, true},
		{"proximity: far apart", prox, at{frankfurt, true}, at{tokyo, true}, false},
		{"proximity: no coordinates is configured order", prox, at{Location{Continent: "EU"}, true}, at{Location{}, false}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ka, oka := OrderKey(tc.svc, tc.a.loc, tc.a.located)
			kb, okb := OrderKey(tc.svc, tc.b.loc, tc.b.located)
			if !oka || !okb {
				t.Fatalf("ok = %v, %v, want true", oka, okb)
			}
			if got := ka == kb; got != tc.same {
				t.Errorf("keys %q and %q: same = %v, want %v", ka, kb, got, tc.same)
			}
		})
	}
}

func TestOrderKeyNotMergeable(t *testing.T) {
	na, eu, ap := world()
	for _, o := range []Order{Failover, Latency} {
		if k, ok := OrderKey(newService(o, Weighted, na, eu, ap), Location{Continent: "EU"}, true); ok {
			t.Errorf("order %s: OrderKey = %q, true, want false", o, k)
		}
	}
	if _, ok := OrderKey(nil, Location{}, false); ok {
		t.Error("nil service: ok = true, want false")
	}
}

// TestOrderKeyAgreesWithDecide checks over random locations that two locations have the
// same key exactly when Decide, explaining, orders the pools of both families the same.
func TestOrderKeyAgreesWithDecide(t *testing.T) {
	na, eu, ap := world()
	near := newPool("eu2", &Region{Name: "eu2", Lat: 48.1, Lon: 11.6, HasCoords: true, Continents: []string{"EU"}, Countries: []string{"AT"}}, "127.0.4.1", "2001:db8::41")
	far := newPool("sa", &Region{Name: "sa", Lat: -23.5, Lon: -46.6, HasCoords: true, Bias: 40, Countries: []string{"BR"}, Subdivisions: []string{"BR-SP"}}, "2001:db8::51")
	nowhere := newPool("x", &Region{Name: "x", Countries: []string{"JP"}}, "127.0.6.1")
	pools := []*Pool{na, eu, ap, near, far, nowhere}
	continents := []string{"", "EU", "NA", "SA", "AS", "OC", "AF", "AN"}
	countries := []string{"", "DE", "AT", "US", "BR", "JP", "SG", "FR"}
	subdivisions := []string{"", "US-VA", "BR-SP", "DE-BE"}
	for _, o := range []Order{Geo, Proximity} {
		t.Run(o.String(), func(t *testing.T) {
			svc := newService(o, Weighted, pools...)
			svc.Tolerance = 0.3 // wide, so that tiers of several pools are common
			rng := rand.New(rand.NewPCG(1, uint64(o)))
			byKey, byOrder := map[string]string{}, map[string]string{}
			for range 400 {
				loc := Location{
					Continent:   continents[rng.IntN(len(continents))],
					Country:     countries[rng.IntN(len(countries))],
					Subdivision: subdivisions[rng.IntN(len(subdivisions))],
					HasCoords:   rng.IntN(8) != 0,
				}
				if loc.HasCoords {
					loc.Lat, loc.Lon = rng.Float64()*180-90, rng.Float64()*360-180
				}
				located := rng.IntN(8) != 0
				key, ok := OrderKey(svc, loc, located)
				if !ok {
					t.Fatal("ok = false, want true")
				}
				c := Client{Loc: loc, Located: located}
				order := decidedOrder(t, svc, c, 4) + " | " + decidedOrder(t, svc, c, 6)
				if prev, seen := byKey[key]; seen && prev != order {
					t.Fatalf("key %q: orders %q and %q", key, prev, order)
				}
				if prev, seen := byOrder[order]; seen && prev != key {
					t.Fatalf("order %q: keys %q and %q", order, prev, key)
				}
				byKey[key], byOrder[order] = order, key
			}
			if len(byKey) < 5 {
				t.Errorf("only %d distinct orders in 400 locations, want a stronger test", len(byKey))
			}
		})
	}
}

// distances matches the distances that tiersString writes after a pool name.
var distances = regexp.MustCompile(` [0-9.]+km`)

// decidedOrder is the tiers of Decide's explained order step for the family, without distances.
func decidedOrder(t *testing.T, svc *Service, c Client, fam int) string {
	t.Helper()
	dec := Decide(Request{Service: svc, Client: c, Family: fam, Explain: true})
	for _, s := range dec.Steps {
		if strings.HasPrefix(s, "order ") {
			return distances.ReplaceAllString(s[strings.LastIndex(s, "→ ")+len("→ "):], "")
		}
	}
	t.Fatalf("no order step in %q", dec.Steps)
	return ""
}
