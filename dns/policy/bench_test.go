package policy

import (
	"net/netip"
	"testing"

	"github.com/meridian-gslb/meridian/health"
)

// BenchmarkDecide measures one decision for a 3-pool, 2-endpoint-per-pool service, with a
// map-backed HealthView holding every endpoint Up, as the query path runs it (no Explain).
func BenchmarkDecide(b *testing.B) {
	na := newPool("na", naRegion(), "127.0.1.1", "127.0.1.2")
	eu := newPool("eu", euRegion(), "127.0.2.1", "127.0.2.2")
	ap := newPool("ap", apRegion(), "127.0.3.1", "127.0.3.2")
	h := healthMap{}
	for _, p := range []*Pool{na, eu, ap} {
		for _, e := range p.Endpoints {
			h[e.ID] = health.Up
		}
	}
	tab, err := LoadLatency(writeFile(b, "rtt.csv", "client,region,rtt_ms\n81.2.69.0/24,eu,12\n81.2.0.0/16,na,90\nDE,ap,170\n"))
	if err != nil {
		b.Fatal(err)
	}
	client := Client{
		Addr:    netip.MustParseAddr("81.2.69.142"),
		Loc:     Location{Continent: "EU", Country: "DE", Subdivision: "DE-BE", Lat: 52.5, Lon: 13.4, HasCoords: true},
		Located: true,
	}
	tests := []struct {
		name    string
		order   Order
		sel     Select
		answers int
	}{
		{"failover/weighted", Failover, Weighted, 1},
		{"geo/weighted", Geo, Weighted, 1},
		{"proximity/random", Proximity, Random, 1},
		{"latency/hash", Latency, Hash, 1},
		{"geo/weighted/2answers", Geo, Weighted, 2},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			svc := newService(tc.order, tc.sel, na, eu, ap)
			svc.Answers = tc.answers
			r := Request{Service: svc, Client: client, Family: 4, Health: h, Latency: tab}
			b.ReportAllocs()
			for b.Loop() {
				if d := Decide(r); len(d.Addrs) != tc.answers {
					b.Fatalf("got %v, want %d addresses", d.Addrs, tc.answers)
				}
			}
		})
	}
}
