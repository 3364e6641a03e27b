package dns

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns/policy"
	"github.com/meridian-gslb/meridian/geo/geotest"
)

func newGSLBHandler(tb testing.TB, path string) *Handler {
	tb.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	h, err := NewHandler(cfg, newTestLogger(), prometheus.NewRegistry())
	if err != nil {
		tb.Fatal(err)
	}
	// The ECS scope maps build in the background: wait, so every reply has its final scope.
	// On GeoLite2-City they take about a second; the bound leaves room for a loaded machine
	// (make bench-go runs several packages' benchmarks at once).
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := h.WaitScopes(ctx); err != nil {
		tb.Fatal(err)
	}
	return h
}

// serviceQueries are plain A/AAAA queries for load-balanced names whose answers are the same
// every time (hash selection), in every form the fast path takes: without EDNS, with EDNS and
// either DO bit, with ECS options of both families and several prefix lengths (public, private).
func serviceQueries(tb testing.TB) [][]byte {
	var out [][]byte
	names := []string{"hash.gslb.test.", "GeoHash.GSLB.test.", "geohash.gslb.test."}
	subnets := []string{"", "81.2.69.0/24", "81.2.64.0/18", "1.0.16.0/20", "8.8.8.0/24", "10.1.2.0/24", "5.6.7.8/32", "2001:4860:4860::/48", "2001:db8::/32"}
	for _, n := range names {
		for _, t := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
			for _, form := range []string{"plain", "edns", "do"} {
				for _, sn := range subnets {
					if form == "plain" && sn != "" {
						continue
					}
					m := new(mdns.Msg)
					m.SetQuestion(n, t)
					m.Id = 0x1234
					if form != "plain" {
						m.SetEdns0(4096, form == "do")
					}
					if sn != "" {
						opt := m.IsEdns0()
						opt.Option = append(opt.Option, SubnetOption(netip.MustParsePrefix(sn)))
					}
					wire, err := m.Pack()
					if err != nil {
						tb.Fatal(err)
					}
					out = append(out, wire)
				}
			}
		}
	}
	return out
}

// TestServiceFastPathMatchesSlowPath: the hand-written replies for load-balanced names are the
// slow path's replies byte for byte, and the fast path takes every one of these queries.
func TestServiceFastPathMatchesSlowPath(t *testing.T) {
	h := newGSLBHandler(t, writeGSLB(t))
	src := netip.MustParseAddrPort("127.0.0.1:5300")
	for _, proto := range []Proto{UDP, TCP} {
		for _, q := range serviceQueries(t) {
			var pq query
			if !parseFast(q, &pq) {
				t.Fatalf("query %x is not fast-path shaped", q)
			}
			s := h.snap.Load()
			fs := s.fastServices[string(pq.question())]
			if fs == nil {
				t.Fatalf("no fast service for %x", pq.question())
			}
			fast := s.respondService(fs, make([]byte, 4096), q, &pq, &cookieState{}, proto, src.Addr())
			slow := h.slow(s, make([]byte, 65535), q, proto, src, time.Now())
			if fast == nil {
				t.Errorf("%s: fast path declined %x", proto, q)
				continue
			}
			if !bytes.Equal(fast, slow) {
				var fm, sm mdns.Msg
				ferr, serr := fm.Unpack(fast), sm.Unpack(slow)
				t.Errorf("%s: fast and slow replies differ\nfast (%v): %x\n%v\nslow (%v): %x\n%v", proto, ferr, fast, &fm, serr, slow, &sm)
			}
		}
	}
}

// TestServiceFastPathDeclines: what the fast path must leave to the slow path.
func TestServiceFastPathDeclines(t *testing.T) {
	h := newGSLBHandler(t, writeGSLB(t))
	s := h.snap.Load()
	for _, name := range []string{"alias.gslb.test.", "ns1.gslb.test."} {
		var q query
		m := new(mdns.Msg)
		m.SetQuestion(name, mdns.TypeA)
		wire, _ := m.Pack()
		if parseFast(wire, &q) && s.fastServices[string(q.question())] != nil {
			t.Errorf("%s: has a fast service entry; CNAMEs and static names go elsewhere", name)
		}
	}
	// An all-disabled service decides NODATA: the slow path writes the SOA.
	m := new(mdns.Msg)
	m.SetQuestion("dark.gslb.test.", mdns.TypeA)
	wire, _ := m.Pack()
	var q query
	if !parseFast(wire, &q) {
		t.Fatal("dark query not fast-path shaped")
	}
	if resp := s.respondService(s.fastServices[string(q.question())], make([]byte, 4096), wire, &q, &cookieState{}, UDP, netip.MustParseAddr("127.0.0.1")); resp != nil {
		t.Errorf("fast path answered a NODATA decision")
	}
}

func TestServiceFastPathAllocations(t *testing.T) {
	h := newGSLBHandler(t, writeGSLB(t))
	out := make([]byte, 4096)
	src := netip.MustParseAddrPort("127.0.0.1:5300")
	for i, q := range serviceQueries(t) {
		allocs := testing.AllocsPerRun(1000, func() { h.Respond(out, q, UDP, src) })
		if allocs > 0 {
			t.Errorf("query %d: the service fast path allocates %.1f times per query, want 0 (the decision's addresses are in a pooled room)", i, allocs)
		}
	}
}

func BenchmarkRespondService(b *testing.B) {
	for _, tc := range []struct {
		name string
		q    int
	}{{"hash-plain", 0}, {"hash-ecs", 4}} {
		b.Run(tc.name, func(b *testing.B) {
			h := newGSLBHandler(b, writeGSLB(b))
			q := serviceQueries(b)[tc.q]
			out := make([]byte, 4096)
			src := netip.MustParseAddrPort("127.0.0.1:5300")
			b.ReportAllocs()
			for b.Loop() {
				h.Respond(out, q, UDP, src)
			}
		})
	}
}

// BenchmarkRespondGeoLite2: a geo service over the real GeoLite2-City, queries with ECS from
// 4096 random /24s (the geo cache holds them all after the first round).
func BenchmarkRespondGeoLite2(b *testing.B) {
	city := geotest.GeoLite2(b, "GeoLite2-City.mmdb")
	path := writeGSLB(b)
	cfg := strings.Replace(string(mustRead(b, path)), `databases = ["city.mmdb"]`, fmt.Sprintf("databases = [%q]", city), 1)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	h := newGSLBHandler(b, path)
	rng := rand.New(rand.NewPCG(7, 7))
	var qs [][]byte
	for range 4096 {
		m := new(mdns.Msg)
		m.SetQuestion("geo.gslb.test.", mdns.TypeA)
		m.SetEdns0(1232, false)
		ip := netip.AddrFrom4([4]byte{byte(1 + rng.IntN(222)), byte(rng.IntN(256)), byte(rng.IntN(256)), 0})
		m.IsEdns0().Option = append(m.IsEdns0().Option, SubnetOption(netip.PrefixFrom(ip, 24)))
		w, err := m.Pack()
		if err != nil {
			b.Fatal(err)
		}
		qs = append(qs, w)
	}
	out := make([]byte, 4096)
	src := netip.MustParseAddrPort("127.0.0.1:5300")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.Respond(out, qs[i%len(qs)], UDP, src)
		i++
	}
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestPreparedDecisionsAgree: a decision through a class's prepared order (the query path once
// the scope maps exist) is the decision Decide makes from the client's location, for random
// clients of both families; services select by hash so the answers are comparable.
func TestPreparedDecisionsAgree(t *testing.T) {
	h := newGSLBHandler(t, writeGSLB(t))
	s := h.snap.Load()
	rng := rand.New(rand.NewPCG(3, 4))
	prefixes := []netip.Prefix{
		netip.MustParsePrefix("81.2.64.0/18"), netip.MustParsePrefix("8.8.0.0/16"), netip.MustParsePrefix("1.0.0.0/16"),
		netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("2001:4860::/31"), netip.MustParsePrefix("::/0"),
	}
	for _, name := range []string{"geohash.gslb.test.", "nearhash.gslb.test."} {
		svc := s.services[name]
		if svc.classes.Load() == nil {
			t.Fatalf("%s: no scope map", name)
		}
		prepared := 0
		for range 3000 {
			p := prefixes[rng.IntN(len(prefixes))]
			b := p.Addr().AsSlice()
			for i := range b {
				keep := max(0, min(8, p.Bits()-8*i))
				b[i] = b[i]&^(0xff>>keep) | byte(rng.Uint32())&(0xff>>keep)
			}
			a, _ := netip.AddrFromSlice(b)
			if !public(a) {
				continue
			}
			ecs := ecsInfo{prefix: netip.PrefixFrom(a, a.BitLen()), ok: true}
			for _, fam := range []int{4, 6} {
				var room policy.Room
				fast := s.decide(svc, fam, netip.MustParseAddr("127.0.0.1"), ecs, false, &room)
				full := s.decide(svc, fam, netip.MustParseAddr("127.0.0.1"), ecs, true, nil)
				if fast.loc.Continent == "" && fast.loc.Prefix.IsValid() {
					prepared++ // the prepared path sets only the prefix
				}
				if !slices.Equal(fast.Addrs, full.Addrs) || fast.Outcome != full.Outcome || fast.scope != full.scope {
					t.Fatalf("%s %s IPv%d: prepared %v %s scope %d, full %v %s scope %d\n%s", name, a, fam,
						fast.Addrs, fast.Outcome, fast.scope, full.Addrs, full.Outcome, full.scope, strings.Join(full.Steps, "\n"))
				}
			}
		}
		if prepared == 0 {
			t.Errorf("%s: no decision took the prepared path", name)
		}
	}
}

// TestFailoverTargetWarns: a service whose failover bound exceeds [server] failover_target is
// named in a warning when the config loads.
func TestFailoverTargetWarns(t *testing.T) {
	cfg, err := config.Load(writeGSLB(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.FailoverTarget = 10 * time.Second
	var logs bytes.Buffer
	h, err := NewHandler(cfg, slog.New(slog.NewTextHandler(&logs, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.WaitScopes(context.Background()); err != nil { // its logging is done, too
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "fails over slower than failover_target") || !strings.Contains(out, "service=geo.gslb.test. bound=26.5s") {
		t.Errorf("no warning for geo.gslb.test. (bound 26.5s, target 10s):\n%s", out)
	}
	if strings.Contains(out, "service=hash.gslb.test.") {
		t.Errorf("hash.gslb.test. has no monitored pool, so no bound, yet it was warned about:\n%s", out)
	}
}
