package geo

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/geo/geotest"
)

type writer func(t testing.TB, path string, nets []geotest.Net)

// fixture writes nets with w into a fresh temporary directory.
func fixture(t *testing.T, w writer, nets []geotest.Net) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db.mmdb")
	w(t, path, nets)
	return path
}

func mustOpen(t testing.TB, o Options, paths ...string) *DB {
	t.Helper()
	d, err := Open(paths, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func cityNets() []geotest.Net {
	return []geotest.Net{
		{CIDR: "192.0.2.0/24", Continent: "EU", Country: "DE", Subdivision: "DE-HE", Lat: 50.11, Lon: 8.68},
		{CIDR: "198.51.96.0/20", Continent: "NA", Country: "US", Subdivision: "US-VA", Lat: 38.95, Lon: -77.45},
		{CIDR: "10.0.0.0/8", Continent: "OC", Country: "AU", Lat: -33.87, Lon: 151.21},
		{CIDR: "2001:db8::/32", Continent: "AS", Country: "JP", Subdivision: "JP-13", Lat: 35.69, Lon: 139.69},
	}
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// netipFromInt is the IPv4 address with the value i.
func netipFromInt(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
}

func containsPath(err error, path string) bool {
	return err != nil && strings.Contains(err.Error(), path)
}
