//go:build !race

package netmap

import (
	"testing"

	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/geo/geotest"
)

// This file is left out of race builds: walking the real databases against the reference build
// takes ~20 s, ~190 s under the race detector, and the concurrency it would check is the same
// as on the small fixtures of TestBuildSameAsReference (which do run with -race). `make test`
// runs it in a separate go test without -race.

// TestGeoLite2SameAsReference: on the real GeoLite2-City, alone and under GeoLite2-Country,
// Build gives the maps of the reference build exactly.
func TestGeoLite2SameAsReference(t *testing.T) {
	if testing.Short() {
		t.Skip("walks a whole database six times")
	}
	city := geotest.GeoLite2(t, "GeoLite2-City.mmdb")
	country := geotest.GeoLite2(t, "GeoLite2-Country.mmdb")
	for _, ps := range [][]string{{city}, {country, city}} {
		db, err := geo.Open(ps, geo.Options{CacheSize: -1})
		if err != nil {
			t.Fatal(err)
		}
		checkSameAsReference(t, db, map[string]func(geo.Location) string{"continent": continent, "grid": grid})
	}
}
