package dns

import (
	"testing"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-gslb/meridian/config"
)

func TestMetricsCountBothPaths(t *testing.T) {
	cfg, err := config.Load("testdata/zone.toml")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h, err := NewHandler(cfg, newTestLogger(), reg)
	if err != nil {
		t.Fatal(err)
	}
	pack := func(name string, qt uint16, edns bool) []byte {
		m := new(mdns.Msg)
		m.SetQuestion(name, qt)
		if edns {
			m.SetEdns0(1232, false)
		}
		b, _ := m.Pack()
		return b
	}
	out := make([]byte, 65535)
	for range 5 { // 1 slow + 4 fast
		h.Respond(out, pack("www.example.test.", mdns.TypeA, false), UDP, client)
	}
	for range 3 {
		h.Respond(out, pack("nope.example.test.", mdns.TypeA, false), TCP, client)
		h.Respond(out, pack("example.org.", mdns.TypeA, false), UDP, client)
	}
	h.Respond(out, pack("big.example.test.", mdns.TypeTXT, true), UDP, client)

	tests := []struct {
		labels []string
		want   float64
	}{
		{[]string{"example.test.", "A", "NOERROR", "udp"}, 5},
		{[]string{"example.test.", "A", "NXDOMAIN", "tcp"}, 3},
		{[]string{"none", "A", "REFUSED", "udp"}, 3},
		{[]string{"example.test.", "TXT", "NOERROR", "udp"}, 1},
	}
	for _, tc := range tests {
		if got := testutil.ToFloat64(h.metrics.queries.WithLabelValues(tc.labels...)); got != tc.want {
			t.Errorf("queries%v = %v, want %v", tc.labels, got, tc.want)
		}
	}
	if got := testutil.ToFloat64(h.metrics.truncated); got != 1 {
		t.Errorf("truncated = %v, want 1", got)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", err, problems)
	}
}
