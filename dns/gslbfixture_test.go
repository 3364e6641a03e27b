package dns

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/meridian-gslb/meridian/geo/geotest"
)

// writeGSLB copies testdata/gslb.toml into a temporary directory beside a GeoIP fixture:
// 81.2.64.0/20 in Europe, 8.8.8.0/24 and 2001:4860::/32 in North America, 1.0.16.0/20 in Asia.
// It returns the config's path.
func writeGSLB(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	geotest.WriteCity(t, filepath.Join(dir, "city.mmdb"), []geotest.Net{
		{CIDR: "81.2.64.0/20", Continent: "EU", Country: "GB", Lat: 51.5, Lon: -0.1},
		{CIDR: "8.8.8.0/24", Continent: "NA", Country: "US", Lat: 37.75, Lon: -97.8},
		{CIDR: "1.0.16.0/20", Continent: "AS", Country: "JP", Lat: 35.69, Lon: 139.69},
		{CIDR: "2001:4860::/32", Continent: "NA", Country: "US", Lat: 37.75, Lon: -97.8},
	})
	for _, f := range []string{"gslb.toml", "latency.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "gslb.toml")
}

// WriteGSLB is writeGSLB for the external tests (package dns_test).
var WriteGSLB = writeGSLB
