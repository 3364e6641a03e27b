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

// referenceNetworks is Networks as it was before Walker: every network's records decoded.
func referenceNetworks(d *DB, fn func(p netip.Prefix, l Location) bool) error {
	l := d.cur.Load()
	first := l.srcs[0]
	for res := range first.reader.Networks() {
		if err := res.Err(); err != nil {
			return err
		}
		p := res.Prefix()
		r, err := first.schema.decode(res)
		if err != nil {
			return err
		}
		var loc Location
		loc.merge(r, p)
		for _, s := range l.srcs[1:] {
			if r, q, ok := s.lookup(p.Addr()); ok {
				loc.merge(r, q)
			}
		}
		if !fn(p, loc) {
			return nil
		}
	}
	return nil
}

// checkWalkerSameAsReference fails unless a Walker's walk of ::/0 reports the reference's
// networks and locations in order, with Scope the location's Prefix and one location per ID.
func checkWalkerSameAsReference(t *testing.T, d *DB) {
	t.Helper()
	type network struct {
		p netip.Prefix
		l Location
	}
	var want []network
	if err := referenceNetworks(d, func(p netip.Prefix, l Location) bool {
		want = append(want, network{p, l})
		return true
	}); err != nil {
		t.Fatal(err)
	}
	byID := map[int]Location{}
	i := 0
	if err := d.Walkers(1)[0].NetworksWithin(pfx("::/0"), func(n Network) bool {
		l := n.Location()
		if i >= len(want) || n.Prefix != want[i].p || l != want[i].l || n.Scope != l.Prefix {
			t.Fatalf("network %d: %s %+v scope %s; want %+v", i, n.Prefix, l, n.Scope, want[min(i, len(want)-1)])
		}
		l.Prefix = netip.Prefix{}
		if o, ok := byID[n.ID]; ok && o != l {
			t.Fatalf("network %s: ID %d is %+v and %+v", n.Prefix, n.ID, o, l)
		}
		byID[n.ID] = l
		i++
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if i != len(want) {
		t.Errorf("walked %d networks, want %d", i, len(want))
	}
	t.Logf("%d networks, %d location IDs", i, len(byID))
}

func TestWalkerSameAsReference(t *testing.T) {
	country := fixture(t, geotest.WriteCountry, []geotest.Net{
		{CIDR: "192.0.2.0/24", Continent: "EU", Country: "DE"},
		{CIDR: "198.51.100.0/24", Continent: "NA", Country: "US"},
		{CIDR: "2001:db8::/32", Continent: "AS", Country: "JP"},
	})
	city := fixture(t, geotest.WriteCity, []geotest.Net{
		{CIDR: "192.0.2.0/25", Continent: "EU", Country: "DE", Subdivision: "DE-HE", Lat: 50.11, Lon: 8.68},
		{CIDR: "192.0.2.128/25", Continent: "EU", Country: "FR", Lat: 48.8, Lon: 2.3},
		{CIDR: "198.51.100.0/25", Continent: "NA", Country: "US", Subdivision: "US-CA", Lat: 37.7, Lon: -122.4},
		{CIDR: "2001:db8::/48", Continent: "AS", Country: "JP", Lat: 35.7, Lon: 139.7},
	})
	for _, ps := range [][]string{{country}, {city}, {country, city}, {city, country}, {country, city, country}} {
		checkWalkerSameAsReference(t, mustOpen(t, Options{}, ps...))
	}
}

func TestGeoLite2WalkerSameAsReference(t *testing.T) {
	if testing.Short() {
		t.Skip("walks a whole database")
	}
	city, country := geotest.GeoLite2(t, "GeoLite2-City.mmdb"), geotest.GeoLite2(t, "GeoLite2-Country.mmdb")
	checkWalkerSameAsReference(t, mustOpen(t, Options{}, country, city))
}
