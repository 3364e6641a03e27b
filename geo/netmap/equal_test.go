package netmap

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/geo/geotest"
)

// grid classifies by a 10° cell of the coordinates and the country, so that a map has many
// classes, as a proximity order over many pools gives.
func grid(l geo.Location) string {
	if !l.HasCoords {
		return l.Country
	}
	return fmt.Sprintf("%s %d %d", l.Country, int(math.Floor(l.Lat/10)), int(math.Floor(l.Lon/10)))
}

// checkSameAsReference fails unless BuildAll over db, with 1 and with 2 walkers, gives for
// every classification the Map the single-walk reference build gives, node for node, with
// the reference's first location of every class.
func checkSameAsReference(t *testing.T, db *geo.DB, classify map[string]func(geo.Location) string) {
	t.Helper()
	var names []string
	var fns []func(geo.Location) string
	for name, fn := range classify {
		names, fns = append(names, name), append(fns, fn)
	}
	type ref struct {
		m    *Map
		reps map[string]geo.Location
	}
	refs := make([]ref, len(fns))
	for i, fn := range fns {
		want, reps, err := referenceBuild(context.Background(), db.Networks, fn)
		if err != nil {
			t.Fatalf("referenceBuild: %v", err)
		}
		refs[i] = ref{want, reps}
	}
	for _, n := range []int{1, 2} {
		var ws []Walker
		for _, w := range db.Walkers(n) {
			ws = append(ws, w)
		}
		ms, err := BuildAll(context.Background(), ws, fns)
		if err != nil {
			t.Fatalf("BuildAll: %v", err)
		}
		for i, name := range names {
			want, reps := refs[i].m, refs[i].reps
			got := ms[i]
			examples := map[string]geo.Location{}
			for class, l := range got.Examples {
				examples[class] = l
			}
			got.examples = nil // the reference has none
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%d walkers, %s: map differs from the reference: %d nodes, %d classes; want %d, %d",
					n, name, got.Nodes(), got.Classes(), want.Nodes(), want.Classes())
			}
			if !reflect.DeepEqual(examples, reps) {
				t.Errorf("%d walkers, %s: examples differ from the reference's first locations:\n got %v\nwant %v", n, name, examples, reps)
			}
		}
	}
}

// TestBuildSameAsReference: on random layered databases (country over city, as Open
// layers them), Build gives the maps of the reference build exactly.
func TestBuildSameAsReference(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 11))
			dir := t.TempDir()
			countries := []struct{ cc, cont string }{{"DE", "EU"}, {"FR", "EU"}, {"US", "NA"}, {"JP", "AS"}, {"BR", "SA"}}
			var city, country []geotest.Net
			within := []netip.Prefix{
				netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("2a00::/12"),
			}
			for range 600 {
				c := countries[rng.IntN(len(countries))]
				in := within[rng.IntN(len(within))]
				bits := in.Bits() + 2 + rng.IntN(22)
				if in.Addr().Is4() {
					bits = 2 + rng.IntN(26) // some wider than a part of the walk
				}
				n := geotest.Net{CIDR: prefixOf(t, randomIn(rng, in), bits).String(), Continent: c.cont, Country: c.cc}
				if rng.IntN(3) > 0 { // some without coordinates
					n.Lat, n.Lon = float64(rng.IntN(180)-90), float64(rng.IntN(360)-180)
				}
				if rng.IntN(4) == 0 {
					country = append(country, geotest.Net{CIDR: n.CIDR, Continent: c.cont, Country: c.cc})
				} else {
					city = append(city, n)
				}
			}
			paths := []string{filepath.Join(dir, "country.mmdb"), filepath.Join(dir, "city.mmdb")}
			geotest.WriteCountry(t, paths[0], country)
			geotest.WriteCity(t, paths[1], city)
			for _, ps := range [][]string{paths[1:], paths, {paths[1], paths[0]}} {
				db, err := geo.Open(ps, geo.Options{CacheSize: -1})
				if err != nil {
					t.Fatal(err)
				}
				checkSameAsReference(t, db, map[string]func(geo.Location) string{"continent": continent, "grid": grid})
			}
		})
	}
}
