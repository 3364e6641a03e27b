package dns_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns"
	"github.com/meridian-gslb/meridian/dns/dnstest"
	"github.com/meridian-gslb/meridian/geo/geotest"
	"github.com/meridian-gslb/meridian/health/measure"
	"github.com/meridian-gslb/meridian/store"
)

// fakeClock is the measurement table's clock, moved by the test.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// feedbackServer serves testdata/feedback.toml with a measurement table on a fake clock, over
// real UDP/TCP sockets, once the ECS scope maps are built (so the class fast path is live).
// The CSV table says pool a is nearer than b for Europe, 81.2.69.0/24 included.
func feedbackServer(t *testing.T) (netip.AddrPort, *dns.Handler, *store.Measurements, *fakeClock, *prometheus.Registry) {
	t.Helper()
	dir := t.TempDir()
	geotest.WriteCity(t, filepath.Join(dir, "city.mmdb"), dns.FeedbackCity)
	b, err := os.ReadFile("testdata/feedback.toml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "feedback.toml")
	csv := "client,region,rtt_ms\ncontinent:EU,a,10\ncontinent:EU,b,80\n"
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "feedback.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	reg := prometheus.NewRegistry()
	m := store.NewMeasurements(store.MeasureOptions{TTL: 25 * time.Second, Now: clock.Now, Registerer: reg})
	h, err := dns.NewHandler(cfg, dnstest.Logger(t), reg, dns.WithMeasurements(m))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.WaitScopes(ctx); err != nil {
		t.Fatalf("ECS scope maps: %v", err)
	}
	return dnstest.Start(t, h, "127.0.0.1"), h, m, clock, reg
}

func record(t *testing.T, m *store.Measurements, r measure.Report) {
	t.Helper()
	if err := m.Record(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

// TestMeasuredRTTSteersLatencyAnswers: the table says a is nearer for 81.2.69.0/24; a
// proxy in b measures that prefix much nearer, so the answer goes to b, scoped /24 (the
// measured prefix, although the table alone allows the geo network's /20); explain names the
// measurement; once it expires the answer is a again.
func TestMeasuredRTTSteersLatencyAnswers(t *testing.T) {
	addr, h, m, clock, reg := feedbackServer(t)
	ask := func() ([]string, int) {
		t.Helper()
		r := dnstest.Exchange(t, addr, "udp", ecsQuery(t, "rtt.feedback.test.", mdns.TypeA, "81.2.69.0/24"))
		return answerAddrs(r), replyScope(t, r)
	}
	if got, scope := ask(); !slices.Equal(got, []string{"127.0.1.1"}) && !slices.Equal(got, []string{"127.0.1.2"}) || scope != 24 {
		t.Fatalf("before any measurement: got %v scope /%d, want one of pool a scoped /24", got, scope)
	}

	record(t, m, measure.Report{Proxy: "proxy-b", Region: "b", RTTs: []measure.PrefixRTT{
		{Prefix: netip.MustParsePrefix("81.2.69.0/24"), RTT: 2 * time.Millisecond, Samples: 12},
		{Prefix: netip.MustParsePrefix("81.2.69.0/23"), RTT: time.Millisecond, Samples: 1}, // not a /24: ignored
	}})
	clock.Add(3 * time.Second)
	if got, scope := ask(); !slices.Equal(got, []string{"127.0.2.1"}) || scope != 24 {
		t.Errorf("with b measured at 2ms: got %v scope /%d, want [127.0.2.1] scoped /24", got, scope)
	}
	// Another /24 of the same geo network has no measurement: still a.
	r := dnstest.Exchange(t, addr, "udp", ecsQuery(t, "rtt.feedback.test.", mdns.TypeA, "81.2.70.0/24"))
	if got := answerAddrs(r); len(got) != 1 || !strings.HasPrefix(got[0], "127.0.1.") {
		t.Errorf("unmeasured 81.2.70.0/24: got %v, want pool a", got)
	}
	out, err := h.Explain("rtt.feedback.test", mdns.TypeA, netip.Addr{}, netip.MustParsePrefix("81.2.69.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"pool b: RTT 2ms to b from proxy measurement of 81.2.69.0/24 (12 samples, age 3s)",
		"pool a: RTT 10ms to a from latency table",
		"ECS scope /24",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}
	if got := metricValue(t, reg, "meridian_latency_measurements"); got != 1 {
		t.Errorf("meridian_latency_measurements = %v, want 1", got)
	}

	clock.Add(25 * time.Second) // the report is 28s old: past the 25s TTL
	if got, scope := ask(); len(got) != 1 || !strings.HasPrefix(got[0], "127.0.1.") || scope != 24 {
		t.Errorf("after the measurement expired: got %v scope /%d, want pool a scoped /24", got, scope)
	}
	if got := metricValue(t, reg, "meridian_latency_measurements"); got != 0 {
		t.Errorf("meridian_latency_measurements after expiry = %v, want 0", got)
	}
}

// TestFullPoolSpills: pool a's endpoints report in-flight >= max_inflight, so the geo service
// answers from b with the degraded TTL; when the load drops, a again. The geo service's ECS
// scope map is built, so its queries take the class fast path (DecidePrepared): this fails if
// that path ignores the loads.
func TestFullPoolSpills(t *testing.T) {
	addr, h, m, clock, reg := feedbackServer(t)
	if !dns.ScopesBuilt(h, "geo.feedback.test.") {
		t.Fatal("geo service has no scope map: the test would not cover the class fast path")
	}
	ask := func() ([]string, uint32) {
		t.Helper()
		r := dnstest.Exchange(t, addr, "udp", ecsQuery(t, "geo.feedback.test.", mdns.TypeA, "81.2.69.0/24"))
		if len(r.Answer) == 0 {
			t.Fatalf("no answer: %v", r)
		}
		return answerAddrs(r), r.Answer[0].Header().Ttl
	}
	load := func(a1, a2 int64) {
		record(t, m, measure.Report{Proxy: "proxy-a", Region: "a", Load: []measure.BackendLoad{
			{ID: "a/127.0.1.1", InFlight: a1}, {ID: "a/127.0.1.2", InFlight: a2}, {ID: "elsewhere/192.0.2.1", InFlight: 99},
		}})
	}
	poolA := []string{"127.0.1.1", "127.0.1.2"}
	if got, ttl := ask(); !slices.Equal(got, poolA) || ttl != 30 {
		t.Fatalf("idle: got %v ttl %d, want %v ttl 30", got, ttl, poolA)
	}
	tests := []struct {
		name     string
		a1, a2   int64
		want     []string
		ttl      uint32
		full     float64
		explains []string
	}{
		{"both full", 10, 12, []string{"127.0.2.1"}, 5, 2, []string{
			"endpoint a/127.0.1.1 full (in-flight 10 >= max_inflight 10)",
			"endpoint a/127.0.1.2 full (in-flight 12 >= max_inflight 10)",
			"pool a: 0/2 serving (min 1) not eligible"}},
		{"one full", 3, 11, []string{"127.0.1.1"}, 5, 1, []string{"pool a: 1/2 serving (min 1) eligible"}},
		{"load dropped", 9, 0, poolA, 30, 0, []string{"pool a: 2/2 serving (min 1) eligible"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			load(tc.a1, tc.a2)
			if got, ttl := ask(); !slices.Equal(got, tc.want) || ttl != tc.ttl {
				t.Errorf("got %v ttl %d, want %v ttl %d", got, ttl, tc.want, tc.ttl)
			}
			if got := gaugeValue(t, reg, "meridian_policy_full_endpoints", "a"); got != tc.full {
				t.Errorf("meridian_policy_full_endpoints{pool=a} = %v, want %v", got, tc.full)
			}
			out, err := h.Explain("geo.feedback.test", mdns.TypeA, netip.Addr{}, netip.MustParsePrefix("81.2.69.0/24"))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.explains {
				if !strings.Contains(out, want) {
					t.Errorf("explain lacks %q:\n%s", want, out)
				}
			}
		})
	}
	load(50, 50)
	clock.Add(26 * time.Second) // a stale report counts for nothing
	if got, ttl := ask(); !slices.Equal(got, poolA) || ttl != 30 {
		t.Errorf("stale load report: got %v ttl %d, want %v ttl 30", got, ttl, poolA)
	}
}
