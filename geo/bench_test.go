package geo

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/meridian-gslb/meridian/geo/geotest"
)

// BenchmarkLocate measures Locate on a cache hit (from one goroutine and from
// GOMAXPROCS), on a miss (every address
// new, so each lookup also fills and evicts) and with the cache disabled; on
// a generated City fixture and, when $MERIDIAN_GEOLITE2_DIR is set, on the
// real GeoLite2 City database.
func BenchmarkLocate(b *testing.B) {
	paths := map[string]string{"fixture": filepath.Join(b.TempDir(), "city.mmdb")}
	geotest.WriteCity(b, paths["fixture"], []geotest.Net{
		{CIDR: "0.0.0.0/1", Continent: "EU", Country: "DE", Subdivision: "DE-HE", Lat: 50.11, Lon: 8.68},
		{CIDR: "128.0.0.0/1", Continent: "NA", Country: "US", Subdivision: "US-VA", Lat: 38.95, Lon: -77.45},
	})
	if dir := os.Getenv("MERIDIAN_GEOLITE2_DIR"); dir != "" {
		paths["geolite2"] = filepath.Join(dir, "GeoLite2-City.mmdb")
	}
	for _, name := range []string{"fixture", "geolite2"} {
		path, ok := paths[name]
		if !ok {
			continue
		}
		b.Run(name+"/hit", func(b *testing.B) {
			d := mustOpen(b, Options{}, path)
			ip := netip.MustParseAddr("81.2.69.160")
			d.Locate(ip)
			b.ReportAllocs()
			for b.Loop() {
				d.Locate(ip)
			}
		})
		b.Run(name+"/hit-parallel", func(b *testing.B) {
			d := mustOpen(b, Options{}, path)
			for i := range 1024 {
				d.Locate(spread(i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					d.Locate(spread(i % 1024))
				}
			})
		})
		b.Run(name+"/miss", func(b *testing.B) {
			d := mustOpen(b, Options{}, path)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				d.Locate(spread(i))
			}
		})
		b.Run(name+"/nocache", func(b *testing.B) {
			d := mustOpen(b, Options{CacheSize: -1}, path)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				d.Locate(spread(i))
			}
		})
	}
}

// spread maps i to addresses scattered over the IPv4 space, distinct for
// the first 2^32 values.
func spread(i int) netip.Addr {
	return netipFromInt(int(uint32(i) * 2654435761))
}
