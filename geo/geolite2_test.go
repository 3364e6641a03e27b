package geo

import (
	"net/netip"
	"testing"

	"github.com/meridian-gslb/meridian/geo/geotest"
)

// TestGeoLite2 checks well-known addresses against the real GeoLite2 City
// database; their countries have been stable for years.
func TestGeoLite2(t *testing.T) {
	city := geotest.GeoLite2(t, "GeoLite2-City.mmdb")
	d := mustOpen(t, Options{}, city)
	t.Log(d.Describe())
	tests := []struct {
		ip, country, continent string
	}{
		{"81.2.69.160", "GB", "EU"},
		{"8.8.8.8", "US", "NA"},
		{"1.0.16.1", "JP", "AS"},
		{"2001:4860:4860::8888", "US", "NA"},
		{"202.12.27.33", "JP", "AS"},
		{"41.0.0.1", "ZA", "AF"},
		{"::ffff:81.2.69.160", "GB", "EU"},
	}
	for _, tc := range tests {
		t.Run(tc.ip, func(t *testing.T) {
			ip := addr(tc.ip)
			got := d.Locate(ip)
			if got.Country != tc.country || got.Continent != tc.continent || !got.HasCoords {
				t.Errorf("Locate(%s) = %+v, want %s/%s with coordinates", tc.ip, got, tc.country, tc.continent)
			}
			minBits := 8
			if ip.Unmap().Is6() {
				minBits = 16
			}
			if !got.Prefix.Contains(ip.Unmap()) || got.Prefix.Bits() < minBits {
				t.Errorf("Locate(%s).Prefix = %s, want a network of at least /%d containing it", tc.ip, got.Prefix, minBits)
			}
		})
	}
	if got := d.Locate(addr("10.0.0.1")); got != (Location{}) {
		t.Errorf("Locate(10.0.0.1) = %+v, want the zero Location", got)
	}
}

// TestGeoLite2Continents walks the real GeoLite2 Country database and checks
// the country → continent table (used for DB-IP) against MaxMind's codes.
func TestGeoLite2Continents(t *testing.T) {
	if testing.Short() {
		t.Skip("walks a whole database")
	}
	country := geotest.GeoLite2(t, "GeoLite2-Country.mmdb")
	d := mustOpen(t, Options{}, country)
	bad := map[string]string{}
	n := 0
	if err := d.Networks(func(_ netip.Prefix, l Location) bool {
		n++
		if l.Country != "" {
			if want := continentOf(l.Country); want != l.Continent {
				bad[l.Country] = l.Continent
			}
		}
		return true
	}); err != nil {
		t.Fatalf("Networks: %v", err)
	}
	for c, cont := range bad {
		t.Errorf("country %s: MaxMind says continent %q, continentOf says %q", c, cont, continentOf(c))
	}
	t.Logf("%d networks", n)
}
