package policy

import (
	"net/netip"
	"slices"
	"testing"
)

func TestAllUp(t *testing.T) {
	eu := &Region{Name: "eu", Lat: 50, Lon: 8, HasCoords: true, Continents: []string{"EU"}}
	us := &Region{Name: "us", Lat: 38, Lon: -77, HasCoords: true, Continents: []string{"NA"}}
	ep := func(a string, enabled bool) Endpoint {
		return Endpoint{ID: a, Addr: netip.MustParseAddr(a), Weight: 1, Enabled: enabled}
	}
	off := &Pool{Name: "off", Region: eu, Endpoints: []Endpoint{ep("192.0.2.1", false), ep("2001:db8::1", true)}}
	first := &Pool{Name: "first", Region: eu, MinHealthy: 5, Endpoints: []Endpoint{ep("192.0.2.10", true), ep("192.0.2.11", true), ep("192.0.2.12", false)}}
	second := &Pool{Name: "second", Region: us, Endpoints: []Endpoint{ep("192.0.2.20", true)}}
	tests := []struct {
		name   string
		order  Order
		family int
		pools  []*Pool
		want   []string
	}{
		{"failover: the first pool's enabled endpoints, not answers of them", Failover, 4, []*Pool{first, second}, []string{"192.0.2.10", "192.0.2.11"}},
		{"geo: an unlocated client's first pool", Geo, 4, []*Pool{second, first}, []string{"192.0.2.20"}},
		{"proximity: the same", Proximity, 4, []*Pool{first, second}, []string{"192.0.2.10", "192.0.2.11"}},
		{"latency: the same", Latency, 4, []*Pool{second, first}, []string{"192.0.2.20"}},
		{"a pool with none of the family is passed over", Failover, 4, []*Pool{off, second}, []string{"192.0.2.20"}},
		{"ipv6", Failover, 6, []*Pool{first, off}, []string{"2001:db8::1"}},
		{"nothing of the family", Failover, 6, []*Pool{first, second}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := &Service{Name: "www.example.test.", Order: tc.order, Select: Weighted, Answers: 1, Pools: tc.pools}
			var got []string
			for _, a := range AllUp(svc, tc.family) {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("AllUp = %v, want %v", got, tc.want)
			}
		})
	}
}
