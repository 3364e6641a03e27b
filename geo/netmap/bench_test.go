package netmap

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/meridian-gslb/meridian/geo/geotest"
)

func BenchmarkLookup(b *testing.B) {
	db := open(b, geotest.GeoLite2(b, "GeoLite2-City.mmdb"))
	m, err := Build(context.Background(), walkers(db), continent)
	if err != nil {
		b.Fatalf("Build: %v", err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, bc := range []struct {
		name string
		in   netip.Prefix
	}{
		{"IPv4", netip.MustParsePrefix("0.0.0.0/0")},
		{"IPv6", netip.MustParsePrefix("2000::/3")},
	} {
		addrs := make([]netip.Addr, 4096)
		for i := range addrs {
			addrs[i] = randomIn(rng, bc.in)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				m.Lookup(addrs[i%len(addrs)])
				i++
			}
		})
	}
}

func BenchmarkBuildGeoLite2(b *testing.B) {
	db := open(b, geotest.GeoLite2(b, "GeoLite2-City.mmdb"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(context.Background(), walkers(db), continent); err != nil {
			b.Fatalf("Build: %v", err)
		}
	}
}
