package geo

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/meridian-gslb/meridian/geo/geotest"
)

func TestLocate(t *testing.T) {
	frankfurt := Location{Continent: "EU", Country: "DE", Subdivision: "DE-HE", Lat: 50.11, Lon: 8.68, HasCoords: true, Prefix: pfx("192.0.2.0/24")}
	virginia := Location{Continent: "NA", Country: "US", Subdivision: "US-VA", Lat: 38.95, Lon: -77.45, HasCoords: true, Prefix: pfx("198.51.96.0/20")}
	tokyo := Location{Continent: "AS", Country: "JP", Subdivision: "JP-13", Lat: 35.69, Lon: 139.69, HasCoords: true, Prefix: pfx("2001:db8::/32")}
	noSub := func(l Location) Location { l.Subdivision = ""; return l }
	noCoords := func(l Location) Location { l.Subdivision, l.Lat, l.Lon, l.HasCoords = "", 0, 0, false; return l }
	v4 := cityNets()[:3]

	tests := []struct {
		name string
		w    writer
		nets []geotest.Net
		ip   string
		want Location
	}{
		{"city", geotest.WriteCity, cityNets(), "192.0.2.1", frankfurt},
		{"city inside a /20", geotest.WriteCity, cityNets(), "198.51.100.7", virginia},
		{"city ipv6", geotest.WriteCity, cityNets(), "2001:db8:1::53", tokyo},
		{"city ipv4-mapped", geotest.WriteCity, cityNets(), "::ffff:192.0.2.1", frankfurt},
		{"city ipv6 with zone", geotest.WriteCity, cityNets(), "2001:db8::1%eth0", tokyo},
		{"city private range, no subdivision", geotest.WriteCity, cityNets(), "10.1.2.3",
			Location{Continent: "OC", Country: "AU", Lat: -33.87, Lon: 151.21, HasCoords: true, Prefix: pfx("10.0.0.0/8")}},
		{"city unknown", geotest.WriteCity, cityNets(), "203.0.113.1", Location{}},
		{"city unknown ipv6", geotest.WriteCity, cityNets(), "2001:db9::1", Location{}},
		{"country", geotest.WriteCountry, cityNets(), "198.51.100.7", noCoords(virginia)},
		{"country ipv6", geotest.WriteCountry, cityNets(), "2001:db8::1", noCoords(tokyo)},
		{"country unknown", geotest.WriteCountry, cityNets(), "127.0.0.1", Location{}},
		{"dbip city ipv4-only", geotest.WriteDBIPCity, v4, "198.51.100.7", noSub(virginia)},
		{"dbip city ipv4-only asked ipv6", geotest.WriteDBIPCity, v4, "2001:db8::1", Location{}},
		{"dbip city ipv4-only asked ipv4-mapped", geotest.WriteDBIPCity, v4, "::ffff:192.0.2.1", noSub(frankfurt)},
		{"dbip city ipv6", geotest.WriteDBIPCity, cityNets(), "2001:db8::1", noSub(tokyo)},
		{"dbip country derives continent", geotest.WriteDBIPCountry, cityNets(), "192.0.2.200", noCoords(frankfurt)},
		{"dbip country unknown", geotest.WriteDBIPCountry, cityNets(), "192.0.3.1", Location{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := mustOpen(t, Options{}, fixture(t, tc.w, tc.nets))
			for _, pass := range []string{"miss", "hit"} {
				if got := d.Locate(addr(tc.ip)); got != tc.want {
					t.Errorf("%s: Locate(%s) = %+v, want %+v", pass, tc.ip, got, tc.want)
				}
			}
		})
	}
}

func TestLocatePrefixBits(t *testing.T) {
	d := mustOpen(t, Options{}, fixture(t, geotest.WriteCity, []geotest.Net{
		{CIDR: "198.51.96.0/20", Country: "US"},
		{CIDR: "198.51.100.0/24", Country: "CA"}, // carves the /20
		{CIDR: "2001:db8:40::/42", Country: "CA"},
	}))
	tests := []struct {
		ip      string
		country string
		bits    int
	}{
		{"198.51.100.1", "CA", 24},
		{"198.51.96.1", "US", 22}, // 198.51.96.0/22 is what is left of the /20 there
		{"198.51.104.1", "US", 21},
		{"2001:db8:7f::1", "CA", 42},
	}
	for _, tc := range tests {
		t.Run(tc.ip, func(t *testing.T) {
			got := d.Locate(addr(tc.ip))
			if got.Country != tc.country || got.Prefix.Bits() != tc.bits || !got.Prefix.Contains(addr(tc.ip)) {
				t.Errorf("Locate(%s) = %s %s, want %s /%d containing it", tc.ip, got.Country, got.Prefix, tc.country, tc.bits)
			}
		})
	}
}

func TestLayering(t *testing.T) {
	country := fixture(t, geotest.WriteCountry, []geotest.Net{
		{CIDR: "192.0.2.0/24", Continent: "EU", Country: "DE"},
		{CIDR: "198.51.100.0/24", Continent: "EU", Country: "NL"},
	})
	city := fixture(t, geotest.WriteCity, []geotest.Net{
		{CIDR: "192.0.2.0/26", Continent: "EU", Country: "DE", Subdivision: "DE-BE", Lat: 52.52, Lon: 13.40},
		{CIDR: "198.51.100.0/25", Continent: "NA", Country: "US", Subdivision: "US-CA", Lat: 37.39, Lon: -122.08},
		{CIDR: "203.0.113.0/24", Continent: "SA", Country: "BR", Subdivision: "BR-SP", Lat: -23.55, Lon: -46.63},
	})
	asn := fixture(t, geotest.WriteASN, []geotest.Net{
		{CIDR: "192.0.2.0/23", ASN: 64500},
		{CIDR: "203.0.113.128/25", ASN: 64501},
	})
	tests := []struct {
		name  string
		paths []string
		ip    string
		want  Location
	}{
		{"country fields from the first, coords from the second, the narrowest prefix", []string{country, city, asn}, "192.0.2.10",
			Location{Continent: "EU", Country: "DE", Subdivision: "DE-BE", Lat: 52.52, Lon: 13.40, HasCoords: true, ASN: 64500, Prefix: pfx("192.0.2.0/26")}},
		{"city lacks the address", []string{country, city, asn}, "192.0.2.200",
			Location{Continent: "EU", Country: "DE", ASN: 64500, Prefix: pfx("192.0.2.0/24")}},
		{"subdivision of another country is dropped", []string{country, city}, "198.51.100.1",
			Location{Continent: "EU", Country: "NL", Lat: 37.39, Lon: -122.08, HasCoords: true, Prefix: pfx("198.51.100.0/25")}},
		{"only a later database knows it", []string{country, city, asn}, "203.0.113.200",
			Location{Continent: "SA", Country: "BR", Subdivision: "BR-SP", Lat: -23.55, Lon: -46.63, HasCoords: true, ASN: 64501, Prefix: pfx("203.0.113.128/25")}},
		{"order decides", []string{city, country}, "198.51.100.1",
			Location{Continent: "NA", Country: "US", Subdivision: "US-CA", Lat: 37.39, Lon: -122.08, HasCoords: true, Prefix: pfx("198.51.100.0/25")}},
		{"asn alone is a record but not Found", []string{asn, country}, "192.0.3.1",
			Location{ASN: 64500, Prefix: pfx("192.0.2.0/23")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := mustOpen(t, Options{}, tc.paths...)
			got := d.Locate(addr(tc.ip))
			if got != tc.want {
				t.Errorf("Locate(%s) = %+v, want %+v", tc.ip, got, tc.want)
			}
			if got.Found() != (tc.want.Country != "") {
				t.Errorf("Found() = %v, want %v", got.Found(), tc.want.Country != "")
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	notMMDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notMMDB, []byte("not a database\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := fixture(t, geotest.WriteCity, cityNets())
	missing := filepath.Join(dir, "missing.mmdb")
	tests := []struct {
		name  string
		paths []string
		want  string // the error must mention it
	}{
		{"missing file", []string{missing}, missing},
		{"not an mmdb", []string{notMMDB}, notMMDB},
		{"second of two is bad", []string{good, notMMDB}, notMMDB},
		{"no files", nil, "no file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Open(tc.paths, Options{})
			if err == nil {
				d.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tc.paths)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%q) = %v, want it to mention %q", tc.paths, err, tc.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	city := fixture(t, geotest.WriteCity, cityNets())
	flat := fixture(t, geotest.WriteDBIPCountry, cityNets())
	asn := fixture(t, geotest.WriteASN, []geotest.Net{{CIDR: "192.0.2.0/24", ASN: 64500}})
	got := mustOpen(t, Options{}, city, flat, asn).Describe()
	want := []string{
		city + `: schema maxmind, type "GeoIP2-City", IPv6`,
		flat + `: schema flat, type "country ipvAll", IPv6`,
		asn + `: schema asn, type "GeoLite2-ASN", IPv6`,
	}
	if len(got) != len(want) {
		t.Fatalf("Describe() = %q, want %d lines", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) || !strings.Contains(got[i], " nodes") {
			t.Errorf("Describe()[%d] = %q, want it to start %q and give the node count", i, got[i], want[i])
		}
	}
}

func TestCacheHitAllocatesNothing(t *testing.T) {
	d := mustOpen(t, Options{}, fixture(t, geotest.WriteCity, cityNets()))
	ip := addr("198.51.100.7")
	d.Locate(ip) // fill
	var loc Location
	if n := testing.AllocsPerRun(1000, func() { loc = d.Locate(ip) }); n != 0 {
		t.Errorf("Locate on a cache hit: %v allocs/op, want 0", n)
	}
	if loc.Country != "US" {
		t.Errorf("Locate = %+v, want US", loc)
	}
}

func TestCacheBounded(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		inserts  int
		maxAfter int
	}{
		{"default", 0, 1000, defaultCacheSize},
		{"small", 64, 10000, 64},
		{"one per shard", 1, 100, cacheShards},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCache(tc.size)
			for i := range tc.inserts {
				c.put(netipFromInt(i), Location{Country: "DE"})
			}
			if n := c.len(); n > tc.maxAfter || n == 0 {
				t.Errorf("after %d inserts the cache holds %d, want 1..%d", tc.inserts, n, tc.maxAfter)
			}
			if l, ok := c.get(netipFromInt(tc.inserts - 1)); !ok || l.Country != "DE" {
				t.Errorf("the last insert is not cached: %+v, %v", l, ok)
			}
		})
	}
	if newCache(-1) != nil {
		t.Error("newCache(-1) is not nil, want the cache disabled")
	}
}

func TestCacheDisabled(t *testing.T) {
	d := mustOpen(t, Options{CacheSize: -1}, fixture(t, geotest.WriteCity, cityNets()))
	for range 2 {
		if got := d.Locate(addr("192.0.2.1")); got.Country != "DE" {
			t.Errorf("Locate = %+v, want DE", got)
		}
	}
}

func TestLocateConcurrent(t *testing.T) {
	d := mustOpen(t, Options{CacheSize: 32}, fixture(t, geotest.WriteCity, cityNets()))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				ip := netipFromInt(0xc0000200 + (g*2000+i)%256) // 192.0.2.x
				if got := d.Locate(ip); got.Country != "DE" {
					t.Errorf("Locate(%s) = %+v, want DE", ip, got)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestClose(t *testing.T) {
	d := mustOpen(t, Options{}, fixture(t, geotest.WriteCity, cityNets()))
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := d.Locate(addr("192.0.2.1")); got != (Location{}) {
		t.Errorf("Locate after Close = %+v, want the zero Location", got)
	}
	if err := d.Reload(); err == nil {
		t.Error("Reload after Close succeeded, want an error")
	}
	if err := d.Networks(func(netip.Prefix, Location) bool { return true }); err == nil {
		t.Error("Networks after Close succeeded, want an error")
	}
}
