package dns_test

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns"
	"github.com/meridian-gslb/meridian/dns/dnstest"
	"github.com/meridian-gslb/meridian/dns/policy"
	"github.com/meridian-gslb/meridian/health"
)

// startGSLB serves a copy of testdata/gslb.toml (see writeGSLB).
func startGSLB(t *testing.T) (netip.AddrPort, *prometheus.Registry, string) {
	t.Helper()
	path := dns.WriteGSLB(t)
	reg := prometheus.NewRegistry()
	h := dnstest.Handler(t, path, reg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.WaitScopes(ctx); err != nil {
		t.Fatalf("ECS scope maps: %v", err)
	}
	return dnstest.Start(t, h, "127.0.0.1"), reg, path
}

// ecsQuery asks qname/qtype with an EDNS Client Subnet option for subnet ("" for none).
func ecsQuery(t *testing.T, qname string, qtype uint16, subnet string) *mdns.Msg {
	t.Helper()
	m := dnstest.Msg(qname, qtype)
	m.SetEdns0(1232, false)
	if subnet != "" {
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, dns.SubnetOption(netip.MustParsePrefix(subnet)))
	}
	return m
}

func answerAddrs(m *mdns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *mdns.A:
			out = append(out, v.A.String())
		case *mdns.AAAA:
			out = append(out, v.AAAA.String())
		}
	}
	slices.Sort(out)
	return out
}

func replyScope(t *testing.T, m *mdns.Msg) int {
	t.Helper()
	opt := m.IsEdns0()
	if opt == nil {
		t.Fatal("reply has no OPT")
	}
	for _, o := range opt.Option {
		if e, ok := o.(*mdns.EDNS0_SUBNET); ok {
			return int(e.SourceScope)
		}
	}
	return -1 // no ECS option echoed
}

func TestServiceAnswersAndECSScope(t *testing.T) {
	addr, _, _ := startGSLB(t)
	na, eu, ap := []string{"127.0.1.1", "127.0.1.2"}, []string{"127.0.2.1", "127.0.2.2"}, []string{"127.0.3.1", "127.0.3.2"}
	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		subnet string
		want   []string
		scope  int // -1: no ECS echoed
	}{
		// Scopes are the widest prefixes over which the pool order is the same (geo/netmap). In
		// this fixture unlocated clients get the configured order na, eu, ap, which is also
		// North America's, so NA networks merge with all unlocated space up to the nearest
		// EU or AS network: 8.0.0.0/5 (1.0.16.0/20 is AS), 2001:4000::/18 (2001::/32 is Teredo,
		// which follows the IPv4 classes), 4.0.0.0/6.
		{"europe by ecs, scope is the geo network", "geo.gslb.test.", mdns.TypeA, "81.2.69.0/24", eu, 20},
		{"scope never exceeds the source prefix", "geo.gslb.test.", mdns.TypeA, "81.2.64.0/18", eu, 18},
		{"asia by ecs", "geo.gslb.test.", mdns.TypeA, "1.0.16.0/24", ap, 20},
		{"north america by ecs, merged scope", "geo.gslb.test.", mdns.TypeA, "8.8.8.0/24", na, 5},
		{"ipv6 ecs, merged scope", "geo.gslb.test.", mdns.TypeA, "2001:4860:4860::/48", na, 18},
		{"unknown network: default order, merged scope", "geo.gslb.test.", mdns.TypeA, "5.6.7.0/24", na, 6},
		{"private ecs is ignored: located by the socket, scoped to the subnet (not /0: the answer is not every client's)", "geo.gslb.test.", mdns.TypeA, "10.1.2.0/24", na, 24},
		{"no ecs: located by the socket", "geo.gslb.test.", mdns.TypeA, "", na, -1},
		{"ignore_ecs: scope 0", "noecs.gslb.test.", mdns.TypeA, "81.2.69.0/24", na, 0},
		{"failover does not depend on the client: scope 0", "fo.gslb.test.", mdns.TypeA, "1.0.16.0/24", eu, 0},
		{"hash depends on the /24", "hash.gslb.test.", mdns.TypeA, "81.2.69.0/24", nil, 24},
		{"hash scope capped at the source", "hash.gslb.test.", mdns.TypeA, "81.2.0.0/16", nil, 16},
		{"static names answer ecs with scope 0", "ns1.gslb.test.", mdns.TypeA, "81.2.69.0/24", []string{"127.0.0.1"}, 0},
		{"aaaa from the pool's ipv6 endpoints", "geo.gslb.test.", mdns.TypeAAAA, "8.8.8.0/24", []string{"2001:db8:1::1"}, 5},
		{"aaaa where the chosen region has none falls to one that has", "geo.gslb.test.", mdns.TypeAAAA, "81.2.69.0/24", []string{"2001:db8:1::1"}, 20},
		{"cname to a service", "alias.gslb.test.", mdns.TypeA, "", eu, -1},
		{"nets override beats the database, scope its prefix", "geo.gslb.test.", mdns.TypeA, "81.2.69.128/26", ap, 25},
		{"outside the override the database decides", "geo.gslb.test.", mdns.TypeA, "81.2.69.0/25", eu, 20},
		{"ipv6 nets override", "geo.gslb.test.", mdns.TypeA, "2001:db8:77:1::/64", eu, 48},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, proto := range []string{"udp", "tcp"} {
				r := dnstest.Exchange(t, addr, proto, ecsQuery(t, tc.qname, tc.qtype, tc.subnet))
				if r.Rcode != mdns.RcodeSuccess || !r.Authoritative {
					t.Fatalf("%s: rcode %s aa %v, want NOERROR aa", proto, mdns.RcodeToString[r.Rcode], r.Authoritative)
				}
				got := answerAddrs(r)
				if tc.want != nil && !slices.Equal(got, tc.want) {
					t.Errorf("%s: answer %v, want %v", proto, got, tc.want)
				}
				if tc.want == nil && len(got) != 1 {
					t.Errorf("%s: answer %v, want one address", proto, got)
				}
				if s := replyScope(t, r); s != tc.scope {
					t.Errorf("%s: ECS scope %d, want %d", proto, s, tc.scope)
				}
				for _, rr := range r.Answer {
					if h := rr.Header(); h.Rrtype != mdns.TypeCNAME && tc.qname == "geo.gslb.test." && h.Ttl != 20 {
						t.Errorf("%s: TTL %d, want the service's 20", proto, h.Ttl)
					}
				}
			}
		})
	}
}

func TestServiceNoData(t *testing.T) {
	addr, reg, _ := startGSLB(t)
	if got := gaugeValue(t, reg, "meridian_service_failover_bound_seconds", "geo.gslb.test."); got != 26.5 {
		t.Errorf("failover bound of geo = %v, want 26.5 (2s × 3 + 0.5s + ttl 20s)", got)
	}
	tests := []struct{ name, qname string }{
		{"every endpoint disabled", "dark.gslb.test."},
		{"no pool has the family", "alias-target.gslb.test."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			qtype := mdns.TypeA
			if tc.qname == "alias-target.gslb.test." {
				qtype = mdns.TypeAAAA
			}
			r := dnstest.Exchange(t, addr, "udp", ecsQuery(t, tc.qname, qtype, ""))
			if r.Rcode != mdns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != mdns.TypeSOA {
				t.Errorf("reply %v, want NOERROR/NODATA with the SOA", r)
			}
		})
	}
	got := counterValue(t, reg, "meridian_policy_decisions_total", "dark.gslb.test.", "nodata")
	if got != 1 {
		t.Errorf("decisions{dark,nodata} = %v, want 1", got)
	}
}

// TestServiceAnswersAreNotCached: a weighted service's answer is drawn per query, even for
// identical plain queries that the fast path would otherwise copy.
func TestServiceAnswersAreNotCached(t *testing.T) {
	addr, reg, _ := startGSLB(t)
	seen := map[string]int{}
	for range 200 {
		r := dnstest.Exchange(t, addr, "udp", dnstest.Msg("weighted.gslb.test.", mdns.TypeA))
		seen[strings.Join(answerAddrs(r), ",")]++
	}
	if len(seen) != 2 {
		t.Errorf("answers over 200 queries: %v, want both endpoints drawn", seen)
	}
	got := counterValue(t, reg, "meridian_policy_decisions_total", "weighted.gslb.test.", "answer")
	if got != 200 {
		t.Errorf("decisions{weighted,answer} = %v, want 200", got)
	}
}

func TestExplainMatchesTheServer(t *testing.T) {
	addr, _, path := startGSLB(t)
	h := dnstest.Handler(t, path, nil) // its own handler over the same files, as `meridian explain` builds
	for _, subnet := range []string{"81.2.69.0/24", "1.0.16.0/24", "8.8.8.0/24"} {
		out, err := h.Explain("geo.gslb.test", mdns.TypeA, netip.Addr{}, netip.MustParsePrefix(subnet))
		if err != nil {
			t.Fatal(err)
		}
		r := dnstest.Exchange(t, addr, "udp", ecsQuery(t, "geo.gslb.test.", mdns.TypeA, subnet))
		for _, a := range answerAddrs(r) {
			if !strings.Contains(out, "\tA\t"+a) {
				t.Errorf("%s: server answered %s, explain does not show it:\n%s", subnet, a, out)
			}
		}
		for _, want := range []string{"located by the ecs address", "order geo", "outcome answer", "ECS scope /",
			"failover bound: 26.5s (monitor web: interval 2s × fall 3 + timeout 500ms, + ttl 20s)"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: explain lacks %q:\n%s", subnet, want, out)
			}
		}
	}
}

// gaugeValue is the value of the gauge name whose labels include every one of labels.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	return metricValue(t, reg, name, labels...)
}

// counterValue is the value of the counter name whose labels include every one of labels.
func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	return metricValue(t, reg, name, labels...)
}

func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			var vals []string
			for _, lp := range m.GetLabel() {
				vals = append(vals, lp.GetValue())
			}
			for _, l := range labels {
				if !slices.Contains(vals, l) {
					continue metrics
				}
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no %s with labels %v", name, labels)
	return 0
}

// TestECSScopeHolds: every client inside the scope a reply names gets the same answer, which is
// what a resolver caching by that scope assumes.
func TestECSScopeHolds(t *testing.T) {
	addr, _, _ := startGSLB(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, subnet := range []string{"8.8.8.0/24", "81.2.69.0/24", "1.0.16.0/24", "5.6.7.0/24", "2001:4860:4860::/48"} {
		t.Run(subnet, func(t *testing.T) {
			r := dnstest.Exchange(t, addr, "udp", ecsQuery(t, "geo.gslb.test.", mdns.TypeA, subnet))
			want, scope := answerAddrs(r), replyScope(t, r)
			p := netip.MustParsePrefix(subnet)
			scoped, _ := p.Addr().Prefix(scope)
			for range 30 {
				b := scoped.Addr().AsSlice()
				for i := range b { // random host bits below the scope
					keep := max(0, min(8, scope-8*i))
					b[i] = b[i]&^(0xff>>keep) | byte(rng.Uint32())&(0xff>>keep)
				}
				a, _ := netip.AddrFromSlice(b)
				other, _ := a.Prefix(p.Bits())
				got := answerAddrs(dnstest.Exchange(t, addr, "udp", ecsQuery(t, "geo.gslb.test.", mdns.TypeA, other.String())))
				if !slices.Equal(got, want) {
					t.Fatalf("%s is inside the scope %s of %s's reply but gets %v, not %v", other, scoped, subnet, got, want)
				}
			}
		})
	}
}

// TestProximityLatencyRandom: the policies without a test above, over real sockets.
func TestProximityLatencyRandom(t *testing.T) {
	addr, _, _ := startGSLB(t)
	na, eu, ap := []string{"127.0.1.1", "127.0.1.2"}, []string{"127.0.2.1", "127.0.2.2"}, []string{"127.0.3.1", "127.0.3.2"}
	tests := []struct {
		name, qname, subnet string
		want                []string
	}{
		{"proximity: london is nearest frankfurt", "near.gslb.test.", "81.2.69.0/24", eu},
		{"proximity: tokyo is nearest singapore", "near.gslb.test.", "1.0.16.0/24", ap},
		{"proximity: kansas is nearest virginia", "near.gslb.test.", "8.8.8.0/24", na},
		{"latency: london's network measured fastest to ap", "rtt.gslb.test.", "81.2.70.0/24", ap},
		{"latency: a finer measurement wins", "rtt.gslb.test.", "81.2.69.0/24", eu},
		{"latency: asia measured fastest to na", "rtt.gslb.test.", "1.0.16.0/24", na},
		{"latency: no measurement is proximity", "rtt.gslb.test.", "8.8.8.0/24", na},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := dnstest.Exchange(t, addr, "udp", ecsQuery(t, tc.qname, mdns.TypeA, tc.subnet))
			if got := answerAddrs(r); !slices.Equal(got, tc.want) {
				t.Errorf("answer %v, want %v", got, tc.want)
			}
			s := replyScope(t, r)
			if s <= 0 || s > 24 {
				t.Errorf("ECS scope %d, want 1..24: the answer depends on the location", s)
			}
			if tc.qname == "rtt.gslb.test." && strings.HasPrefix(tc.subnet, "81.2.") && s != 24 {
				t.Errorf("latency ECS scope %d, want 24: the table measures 81.2.69.0/24 apart", s)
			}
		})
	}
	seen := map[string]bool{}
	for range 100 {
		r := dnstest.Exchange(t, addr, "udp", ecsQuery(t, "rnd.gslb.test.", mdns.TypeA, "81.2.69.0/24"))
		if s := replyScope(t, r); s != 0 {
			t.Fatalf("random: ECS scope %d, want 0", s)
		}
		seen[strings.Join(answerAddrs(r), ",")] = true
	}
	if len(seen) != 2 {
		t.Errorf("random over 100 queries answered %v, want both endpoints", seen)
	}
}

// countingHealth is a health source that counts the Views it hands out: every endpoint up.
type countingHealth struct{ n atomic.Int64 }

func (c *countingHealth) source() policy.HealthView { c.n.Add(1); return allUp{} }

type allUp struct{}

func (allUp) State(string) health.State { return health.Up }

// TestOneHealthViewPerDecision: an answer over several pools and endpoints reads the health
// source once, so a View published mid-decision cannot judge half the endpoints.
func TestOneHealthViewPerDecision(t *testing.T) {
	path := dns.WriteGSLB(t)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var hs countingHealth
	h, err := dns.NewHandler(cfg, dnstest.Logger(t), prometheus.NewRegistry(), dns.WithHealth(hs.source))
	if err != nil {
		t.Fatal(err)
	}
	addr := dnstest.Start(t, h, "127.0.0.1")
	const queries = 20
	for i := range queries {
		r, err := mdns.Exchange(ecsQuery(t, "fo.gslb.test.", mdns.TypeA, "81.2.69.0/24"), addr.String())
		if err != nil || len(r.Answer) == 0 {
			t.Fatalf("query %d: %v %v", i, r, err)
		}
	}
	if got := hs.n.Load(); got != queries {
		t.Errorf("%d queries read the health source %d times, want once each", queries, got)
	}
}
