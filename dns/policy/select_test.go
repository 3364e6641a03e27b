package policy

import (
	"fmt"
	"math"
	"net/netip"
	"testing"
)

// weightedPool is one pool with endpoints 127.0.0.1.. of the given weights.
func weightedPool(weights ...uint32) *Pool {
	p := &Pool{Name: "w", MinHealthy: 1}
	for i, w := range weights {
		a := netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)})
		p.Endpoints = append(p.Endpoints, Endpoint{ID: fmt.Sprintf("w/%d", i), Addr: a, Weight: w, Enabled: true})
	}
	return p
}

// shares counts, over n decisions, how often each endpoint (by last address byte) comes first.
func shares(n int, r func(i int) Request) map[int]float64 {
	counts := map[int]int{}
	for i := range n {
		d := Decide(r(i))
		counts[int(d.Addrs[0].As4()[3])]++
	}
	out := map[int]float64{}
	for k, c := range counts {
		out[k] = float64(c) / float64(n)
	}
	return out
}

func TestSelectDistribution(t *testing.T) {
	const n = 10000
	tests := []struct {
		name    string
		sel     Select
		weights []uint32
		want    []float64 // share of endpoint i+1
	}{
		{"weighted 1,3,6", Weighted, []uint32{1, 3, 6}, []float64{0.1, 0.3, 0.6}},
		{"weighted equal", Weighted, []uint32{5, 5}, []float64{0.5, 0.5}},
		{"random ignores weights", Random, []uint32{1, 3, 6}, []float64{1. / 3, 1. / 3, 1. / 3}},
		{"hash 1,3,6 over subnets", Hash, []uint32{1, 3, 6}, []float64{0.1, 0.3, 0.6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := newService(Failover, tc.sel, weightedPool(tc.weights...))
			got := shares(n, func(i int) Request {
				a := netip.AddrFrom4([4]byte{byte(i >> 16), byte(i >> 8), byte(i), 1})
				return Request{Service: svc, Client: Client{Addr: a}, Family: 4}
			})
			for i, w := range tc.want {
				if g := got[i+1]; math.Abs(g-w) > 0.03 {
					t.Errorf("endpoint %d: got share %.3f, want %.3f ± 0.03", i+1, g, w)
				}
			}
		})
	}
}

func TestWeightedWithoutReplacement(t *testing.T) {
	// With 2 answers of weights 1,3,6 the second pick is drawn from what the first left:
	// endpoint 1 is answered at all in 1/10 + 3/10·1/7 + 6/10·1/4 ≈ 0.293 of the answers.
	svc := newService(Failover, Weighted, weightedPool(1, 3, 6))
	svc.Answers = 2
	const n = 10000
	seen := 0
	for range n {
		d := Decide(Request{Service: svc, Family: 4})
		if len(d.Addrs) != 2 || d.Addrs[0] == d.Addrs[1] {
			t.Fatalf("got %v, want 2 distinct addresses", d.Addrs)
		}
		for _, a := range d.Addrs {
			if a.As4()[3] == 1 {
				seen++
			}
		}
	}
	want := 0.1 + 0.3/7 + 0.6/4
	if got := float64(seen) / n; math.Abs(got-want) > 0.03 {
		t.Errorf("got endpoint 1 in %.3f of answers, want %.3f ± 0.03", got, want)
	}
}

func TestToleranceSharesLoad(t *testing.T) {
	// RTTs 10 and 10.4 ms share the first tier: both pools answer.
	na, eu, ap := world()
	svc := newService(Latency, Weighted, na, eu, ap)
	r := Request{Service: svc, Family: 4, Latency: rttMap{"eu": 10e6, "na": 10.4e6, "ap": 200e6}}
	seen := map[string]int{}
	for range 400 {
		seen[Decide(r).Pools[0]]++
	}
	if seen["eu-web"] < 100 || seen["na-web"] < 100 || seen["ap-web"] != 0 {
		t.Errorf("got pools %v over 400 answers, want eu-web and na-web about evenly, no ap-web", seen)
	}
}

func TestHashSticky(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"same /24", "81.2.69.1", "81.2.69.254", true},
		{"same /56", "2001:db8:0:ff01::1", "2001:db8:0:ffee::9", true},
		{"mapped IPv4 is IPv4", "::ffff:81.2.69.7", "81.2.69.8", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := newService(Failover, Hash, weightedPool(1, 1, 1, 1, 1, 1, 1, 1))
			svc.Answers = 3
			ra := Request{Service: svc, Client: Client{Addr: netip.MustParseAddr(tc.a)}, Family: 4}
			rb := ra
			rb.Client.Addr = netip.MustParseAddr(tc.b)
			first := fmt.Sprint(Decide(ra).Addrs)
			for range 20 {
				if got, other := fmt.Sprint(Decide(ra).Addrs), fmt.Sprint(Decide(rb).Addrs); got != first || other != first {
					t.Fatalf("got %s and %s, want %s for both", got, other, first)
				}
			}
		})
	}
}

func TestHashRemoval(t *testing.T) {
	before := weightedPool(1, 2, 3, 1, 2)
	after := weightedPool(1, 2, 3, 1, 2)
	removed := after.Endpoints[2].Addr
	after.Endpoints = append(after.Endpoints[:2], after.Endpoints[3:]...)
	moved := 0
	for i := range 1000 {
		c := Client{Addr: netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1})}
		was := Decide(Request{Service: newService(Failover, Hash, before), Client: c, Family: 4}).Addrs[0]
		now := Decide(Request{Service: newService(Failover, Hash, after), Client: c, Family: 4}).Addrs[0]
		switch {
		case was == removed:
			moved++
		case now != was:
			t.Errorf("client %s: got %s after removing %s, want %s kept", c.Addr, now, removed, was)
		}
	}
	if moved < 200 || moved > 400 { // weight 3 of 9
		t.Errorf("got %d of 1000 clients on the removed endpoint, want about 333", moved)
	}
}

func TestHashStable(t *testing.T) {
	// Every node must score alike: these values (checked against an independent FNV-1a +
	// splitmix64 implementation) are part of the contract; never change them.
	tests := []struct {
		client string
		id     string
		want   uint64
	}{
		{"81.2.69.1", "eu-web/127.0.2.1", 0x20bb5fcdcaf3c787},
		{"2001:db8::1", "eu-web/2001:db8::21", 0xdf0a88782188a46c},
	}
	for _, tc := range tests {
		t.Run(tc.client, func(t *testing.T) {
			h, _ := subnetHash(netip.MustParseAddr(tc.client))
			if got := endpointHash(h, tc.id); got != tc.want {
				t.Errorf("got %#x, want %#x", got, tc.want)
			}
		})
	}
}
