package geo

import (
	"net/netip"
	"testing"

	"github.com/meridian-gslb/meridian/geo/geotest"
)

func TestNetworks(t *testing.T) {
	country := fixture(t, geotest.WriteCountry, []geotest.Net{
		{CIDR: "192.0.2.0/24", Continent: "EU", Country: "DE"},
		{CIDR: "198.51.100.0/24", Continent: "NA", Country: "US"},
		{CIDR: "2001:db8::/32", Continent: "AS", Country: "JP"},
	})
	city := fixture(t, geotest.WriteCity, []geotest.Net{
		{CIDR: "192.0.2.0/25", Continent: "EU", Country: "DE", Subdivision: "DE-HE", Lat: 50.11, Lon: 8.68},
	})
	d := mustOpen(t, Options{}, country, city)

	want := map[netip.Prefix]Location{
		// The coordinates come from the city database's /25, so the location holds for the /25 only.
		pfx("192.0.2.0/24"):    {Continent: "EU", Country: "DE", Subdivision: "DE-HE", Lat: 50.11, Lon: 8.68, HasCoords: true, Prefix: pfx("192.0.2.0/25")},
		pfx("198.51.100.0/24"): {Continent: "NA", Country: "US", Prefix: pfx("198.51.100.0/24")},
		pfx("2001:db8::/32"):   {Continent: "AS", Country: "JP", Prefix: pfx("2001:db8::/32")},
	}
	got := map[netip.Prefix]Location{}
	if err := d.Networks(func(p netip.Prefix, l Location) bool {
		got[p] = l
		return true
	}); err != nil {
		t.Fatalf("Networks: %v", err)
	}
	if len(got) != len(want) {
		t.Errorf("Networks walked %d networks %v, want %d", len(got), got, len(want))
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("network %s: %+v, want %+v", p, got[p], w)
		}
	}

	n := 0
	if err := d.Networks(func(netip.Prefix, Location) bool { n++; return false }); err != nil {
		t.Fatalf("Networks: %v", err)
	}
	if n != 1 {
		t.Errorf("Networks called fn %d times after it returned false, want 1", n)
	}
}
