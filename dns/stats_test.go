package dns_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns"
	"github.com/meridian-gslb/meridian/dns/dnstest"
)

// TestAnswerCounts: real UDP queries, on the fast path (plain A) and the slow path (a cookie
// option; a NODATA outcome), are counted once each, by the pool of the first address and its
// region.
func TestAnswerCounts(t *testing.T) {
	h := dnstest.Handler(t, dns.WriteGSLB(t), prometheus.NewRegistry())
	addr := dnstest.Start(t, h, "127.0.0.1")
	find := func(service, outcome string) (n uint64, region string) {
		for _, c := range h.AnswerCounts() {
			if c.Service == service && c.Outcome == outcome {
				n += c.Count
				if c.Count > 0 {
					region = c.Region
				}
			}
		}
		return n, region
	}
	if n, _ := find("weighted.gslb.test.", "answer"); n != 0 {
		t.Fatalf("answers before any query: %d, want 0", n)
	}
	for range 30 {
		dnstest.Exchange(t, addr, "udp", dnstest.Msg("weighted.gslb.test.", mdns.TypeA)) // fast path
	}
	for range 5 {
		m := dnstest.Msg("weighted.gslb.test.", mdns.TypeA)
		m.SetEdns0(512, true)
		m.IsEdns0().Option = append(m.IsEdns0().Option, &mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: "0123456789abcdef"})
		dnstest.Exchange(t, addr, "udp", m) // another option: slow path
	}
	for range 4 {
		dnstest.Exchange(t, addr, "udp", dnstest.Msg("dark.gslb.test.", mdns.TypeA))
	}
	if n, region := find("weighted.gslb.test.", "answer"); n != 35 || region != "na" {
		t.Errorf("weighted answers %d in region %q, want 35 in na", n, region)
	}
	if n, _ := find("dark.gslb.test.", "nodata"); n != 4 {
		t.Errorf("dark nodata %d, want 4", n)
	}
	if n, _ := find("dark.gslb.test.", "answer"); n != 0 {
		t.Errorf("dark answers %d, want 0", n)
	}
}

// writeServices writes a config of n failover services over three regional pools.
func writeServices(t testing.TB, n int) string {
	var b strings.Builder
	b.WriteString("[server]\nnode = \"stats\"\n")
	for _, r := range []string{"na", "eu", "ap"} {
		fmt.Fprintf(&b, "[regions.%s]\n[pools.%s]\nregion = %q\nendpoints = [{ address = \"127.0.%d.1\" }]\n", r, r, r, len(r))
	}
	b.WriteString("[zones.\"stats.test\"]\nns = [\"ns1\"]\n[[zones.\"stats.test\".records]]\nname = \"ns1\"\ntype = \"A\"\ndata = \"127.0.0.1\"\n")
	for i := range n {
		fmt.Fprintf(&b, "[zones.\"stats.test\".services.s%05d]\npolicy = \"failover\"\npools = [\"na\", \"eu\", \"ap\"]\n", i)
	}
	path := filepath.Join(t.TempDir(), "stats.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAppendAnswerCounts: the rows are AnswerCounts' answers, sorted, in the same order and
// generation on every call while the config serves, with the counts moving; a reload gives a
// new generation.
func TestAppendAnswerCounts(t *testing.T) {
	h := dnstest.Handler(t, dns.WriteGSLB(t), prometheus.NewRegistry())
	addr := dnstest.Start(t, h, "127.0.0.1")
	gen, rows := h.AppendAnswerCounts(nil)
	var want []dns.ServiceCount
	for _, c := range h.AnswerCounts() {
		if c.Outcome == "answer" {
			want = append(want, c)
		}
	}
	key := func(c dns.ServiceCount) string { return c.Service + "/" + c.Pool + "/" + c.Region }
	byKey := map[string]bool{}
	for i, c := range rows {
		byKey[key(c)] = true
		if i > 0 && rows[i-1].Service > c.Service {
			t.Errorf("row %d (%s) after %s: not sorted by service", i, c.Service, rows[i-1].Service)
		}
	}
	for _, c := range want {
		if !byKey[key(c)] {
			t.Errorf("AnswerCounts has %s, AppendAnswerCounts does not", key(c))
		}
	}
	for range 7 {
		dnstest.Exchange(t, addr, "udp", dnstest.Msg("weighted.gslb.test.", mdns.TypeA))
	}
	gen2, rows2 := h.AppendAnswerCounts(rows[:0:0])
	if gen2 != gen || len(rows2) != len(rows) {
		t.Fatalf("generation %d with %d rows, then %d with %d: want the same", gen, len(rows), gen2, len(rows2))
	}
	var moved uint64
	for i := range rows2 {
		if key(rows2[i]) != key(rows[i]) {
			t.Fatalf("row %d was %s, now %s", i, key(rows[i]), key(rows2[i]))
		}
		if rows2[i].Service == "weighted.gslb.test." {
			moved += rows2[i].Count - rows[i].Count
		}
	}
	if moved != 7 {
		t.Errorf("weighted answers grew by %d, want 7", moved)
	}
	cfg, err := config.Load(dns.WriteGSLB(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if gen3, _ := h.AppendAnswerCounts(nil); gen3 == gen {
		t.Errorf("the same generation %d after a reload", gen)
	}
}

// BenchmarkAnswerCounts: what the dashboard's sampler reads every second at the design's
// 10,000 services, the full listing against the rows it needs.
func BenchmarkAnswerCounts(b *testing.B) {
	h := dnstest.Handler(b, writeServices(b, 10000), prometheus.NewRegistry())
	b.Run("AnswerCounts", func(b *testing.B) {
		for b.Loop() {
			_ = h.AnswerCounts()
		}
	})
	b.Run("AppendAnswerCounts", func(b *testing.B) {
		var rows []dns.ServiceCount
		for b.Loop() {
			_, rows = h.AppendAnswerCounts(rows[:0])
		}
	})
}
