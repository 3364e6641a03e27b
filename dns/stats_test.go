package dns_test

import (
	"testing"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

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
