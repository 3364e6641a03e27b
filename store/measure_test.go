package store

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-gslb/meridian/health/measure"
)

func rtt(prefix string, ms float64, samples uint64) measure.PrefixRTT {
	return measure.PrefixRTT{Prefix: netip.MustParsePrefix(prefix), RTT: time.Duration(ms * float64(time.Millisecond)), Samples: samples}
}

func TestMeasurements(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()
	m := NewMeasurements(MeasureOptions{TTL: 20 * time.Second, Now: func() time.Time { return now }, Registerer: reg})
	ctx := context.Background()
	client := netip.MustParseAddr("81.2.69.7")

	if err := m.Record(ctx, measure.Report{Region: "eu"}); err == nil {
		t.Error("a report without a proxy was recorded, want an error")
	}
	must := func(r measure.Report) {
		t.Helper()
		if err := m.Record(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	must(measure.Report{Proxy: "p1", Region: "eu",
		RTTs: []measure.PrefixRTT{rtt("81.2.69.0/24", 10, 3), rtt("81.2.0.0/16", 1, 1), rtt("2001:db8:1::/48", 5, 1)},
		Load: []measure.BackendLoad{{ID: "eu/a", InFlight: 4}}})
	now = now.Add(5 * time.Second)
	must(measure.Report{Proxy: "p2", Region: "eu", RTTs: []measure.PrefixRTT{rtt("81.2.69.0/24", 20, 1)},
		Load: []measure.BackendLoad{{ID: "eu/a", InFlight: 6}, {ID: "eu/b", InFlight: 1}}})
	must(measure.Report{Proxy: "p3", Load: []measure.BackendLoad{{ID: "eu/b", InFlight: 2}}}) // load only

	ms, ok := m.Measured(client, "eu")
	if !ok || ms.RTT != 12500*time.Microsecond || ms.Samples != 4 || ms.Age != 0 || ms.Prefix != netip.MustParsePrefix("81.2.69.0/24") {
		t.Errorf("got %+v, %v; want 12.5ms (samples-weighted over two proxies), 4 samples, age 0", ms, ok)
	}
	if _, ok := m.ClientRTT(client, "na"); ok {
		t.Error("got an RTT to a region nobody measured")
	}
	if _, ok := m.ClientRTT(netip.MustParseAddr("81.2.70.1"), "eu"); ok {
		t.Error("a /16 in a report was used, want only /24 and /48")
	}
	if got, ok := m.ClientRTT(netip.MustParseAddr("2001:db8:1:9::1"), "eu"); !ok || got != 5*time.Millisecond {
		t.Errorf("IPv6 /48: got %v, %v; want 5ms", got, ok)
	}
	if n, ok := m.InFlight("eu/a"); !ok || n != 10 {
		t.Errorf("in-flight eu/a = %d, %v; want 10 (summed over proxies)", n, ok)
	}
	if n, ok := m.InFlight("eu/b"); !ok || n != 3 {
		t.Errorf("in-flight eu/b = %d, %v; want 3", n, ok)
	}
	if _, ok := m.InFlight("eu/none"); ok {
		t.Error("in-flight for a backend nobody reported")
	}
	if got := testutil.ToFloat64(reg); got != 3 {
		t.Errorf("meridian_latency_measurements = %v, want 3", got)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}

	now = now.Add(3 * time.Second)
	// p1 reports again: its new report replaces the old one.
	must(measure.Report{Proxy: "p1", Region: "eu", RTTs: []measure.PrefixRTT{rtt("81.2.69.0/24", 30, 1)}})
	if got, want := m.DescribeRTT(client, "eu"), "proxy measurement of 81.2.69.0/24 (2 samples, age 0s)"; got != want {
		t.Errorf("describe = %q, want %q", got, want)
	}
	if n, _ := m.InFlight("eu/a"); n != 6 {
		t.Errorf("in-flight eu/a after p1's new report = %d, want 6", n)
	}

	now = now.Add(18 * time.Second) // p2 and p3 are 21s old: past the TTL; p1 is 18s old
	if got, ok := m.ClientRTT(client, "eu"); !ok || got != 30*time.Millisecond {
		t.Errorf("after p2 expired: got %v, %v; want p1's 30ms", got, ok)
	}
	if _, ok := m.InFlight("eu/b"); ok {
		t.Error("expired in-flight reports still count")
	}
	if got := m.DescribeRTT(client, "eu"); got != "proxy measurement of 81.2.69.0/24 (1 samples, age 18s)" {
		t.Errorf("describe = %q", got)
	}
	now = now.Add(3 * time.Second)
	if _, ok := m.ClientRTT(client, "eu"); ok || m.Len() != 0 || m.DescribeRTT(client, "eu") != "" {
		t.Error("measurements past the TTL still count")
	}
}

// TestMeasurementsConcurrent: lookups run while proxies report (run with -race).
func TestMeasurementsConcurrent(t *testing.T) {
	m := NewMeasurements(MeasureOptions{})
	client := netip.MustParseAddr("81.2.69.7")
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for i := range 200 {
				_ = m.Record(context.Background(), measure.Report{Proxy: string(rune('a' + p)), Region: "eu",
					RTTs: []measure.PrefixRTT{rtt("81.2.69.0/24", float64(1+i%5), 1)},
					Load: []measure.BackendLoad{{ID: "eu/x", InFlight: int64(i)}}})
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 2000 {
				if got, ok := m.ClientRTT(client, "eu"); ok && (got < time.Millisecond || got > 5*time.Millisecond) {
					t.Errorf("rtt %v out of the reported range", got)
					return
				}
				m.InFlight("eu/x")
			}
		})
	}
	wg.Wait()
	if n, ok := m.InFlight("eu/x"); !ok || n != 4*199 {
		t.Errorf("in-flight = %d, %v; want each proxy's last (199) summed: %d", n, ok, 4*199)
	}
}
