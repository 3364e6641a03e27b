package dns_test

import (
	"slices"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dns/dnstest"
)

// answerCase is one query and the reply an authoritative server must give it.
type answerCase struct {
	name       string
	qname      string
	qtype      uint16
	qclass     uint16 // default IN
	rcode      int
	aa         bool
	answer, ns []string // zone-file text; compared as sets
	extra      []string // without the OPT
}

var soaNeg = "example.test. 60 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 3600 600 604800 60"

var answerCases = []answerCase{
	{name: "a record", qname: "www.example.test.", qtype: mdns.TypeA, aa: true,
		answer: []string{"www.example.test. 300 IN A 192.0.2.10"}},
	{name: "aaaa record", qname: "www.example.test.", qtype: mdns.TypeAAAA, aa: true,
		answer: []string{"www.example.test. 300 IN AAAA 2001:db8::10"}},
	{name: "nodata carries soa with negative ttl", qname: "www.example.test.", qtype: mdns.TypeMX, aa: true,
		ns: []string{soaNeg}},
	{name: "nxdomain carries soa with negative ttl", qname: "nope.example.test.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, aa: true,
		ns: []string{soaNeg}},
	{name: "out of zone is refused", qname: "example.org.", qtype: mdns.TypeA, rcode: mdns.RcodeRefused},
	{name: "parent of zone is refused", qname: "test.", qtype: mdns.TypeSOA, rcode: mdns.RcodeRefused},
	{name: "apex soa", qname: "example.test.", qtype: mdns.TypeSOA, aa: true,
		answer: []string{"example.test. 3600 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 3600 600 604800 60"}},
	{name: "apex ns with glue", qname: "example.test.", qtype: mdns.TypeNS, aa: true,
		answer: []string{"example.test. 300 IN NS ns1.example.test.", "example.test. 300 IN NS ns2.example.test."},
		extra:  []string{"ns1.example.test. 300 IN A 192.0.2.1", "ns2.example.test. 300 IN A 192.0.2.2"}},
	{name: "cname followed in zone", qname: "alias.example.test.", qtype: mdns.TypeA, aa: true,
		answer: []string{"alias.example.test. 300 IN CNAME www.example.test.", "www.example.test. 300 IN A 192.0.2.10"}},
	{name: "cname chain followed", qname: "chain.example.test.", qtype: mdns.TypeA, aa: true,
		answer: []string{"chain.example.test. 300 IN CNAME alias.example.test.", "alias.example.test. 300 IN CNAME www.example.test.", "www.example.test. 300 IN A 192.0.2.10"}},
	{name: "cname asked for itself", qname: "alias.example.test.", qtype: mdns.TypeCNAME, aa: true,
		answer: []string{"alias.example.test. 300 IN CNAME www.example.test."}},
	{name: "dangling cname is nxdomain with the cname", qname: "dangling.example.test.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, aa: true,
		answer: []string{"dangling.example.test. 300 IN CNAME nothing.example.test."}, ns: []string{soaNeg}},
	{name: "cname out of zone not chased", qname: "outside.example.test.", qtype: mdns.TypeA, aa: true,
		answer: []string{"outside.example.test. 300 IN CNAME www.example.org."}},
	{name: "mx with additional", qname: "example.test.", qtype: mdns.TypeMX, aa: true,
		answer: []string{"example.test. 300 IN MX 10 mail.example.test."},
		extra:  []string{"mail.example.test. 300 IN A 192.0.2.25"}},
	{name: "txt", qname: "example.test.", qtype: mdns.TypeTXT, aa: true,
		answer: []string{`example.test. 300 IN TXT "v=spf1 mx -all"`}},
	{name: "srv with additional", qname: "_sip._udp.example.test.", qtype: mdns.TypeSRV, aa: true,
		answer: []string{"_sip._udp.example.test. 300 IN SRV 10 60 5060 www.example.test."},
		extra:  []string{"www.example.test. 300 IN A 192.0.2.10", "www.example.test. 300 IN AAAA 2001:db8::10"}},
	{name: "caa", qname: "example.test.", qtype: mdns.TypeCAA, aa: true,
		answer: []string{`example.test. 300 IN CAA 0 issue "ca.example.net"`}},
	{name: "ptr in reverse zone", qname: "10.2.0.192.in-addr.arpa.", qtype: mdns.TypePTR, aa: true,
		answer: []string{"10.2.0.192.in-addr.arpa. 300 IN PTR www.example.test."}},
	{name: "wildcard synthesises the query name", qname: "x.apps.example.test.", qtype: mdns.TypeA, aa: true,
		answer: []string{"x.apps.example.test. 300 IN A 192.0.2.80"}},
	{name: "wildcard covers deeper names", qname: "y.x.apps.example.test.", qtype: mdns.TypeA, aa: true,
		answer: []string{"y.x.apps.example.test. 300 IN A 192.0.2.80"}},
	{name: "wildcard nodata", qname: "x.apps.example.test.", qtype: mdns.TypeAAAA, aa: true, ns: []string{soaNeg}},
	{name: "empty non-terminal above a wildcard is nodata", qname: "apps.example.test.", qtype: mdns.TypeA, aa: true, ns: []string{soaNeg}},
	{name: "empty non-terminal is nodata", qname: "a.b.example.test.", qtype: mdns.TypeA, aa: true, ns: []string{soaNeg}},
	{name: "empty non-terminal blocks the wildcard", qname: "zz.b.example.test.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, aa: true, ns: []string{soaNeg}},
	{name: "referral at the cut", qname: "sub.example.test.", qtype: mdns.TypeA,
		ns:    []string{"sub.example.test. 300 IN NS ns.sub.example.test."},
		extra: []string{"ns.sub.example.test. 300 IN A 192.0.2.53"}},
	{name: "referral below the cut", qname: "www.sub.example.test.", qtype: mdns.TypeAAAA,
		ns:    []string{"sub.example.test. 300 IN NS ns.sub.example.test."},
		extra: []string{"ns.sub.example.test. 300 IN A 192.0.2.53"}},
	{name: "ds at the cut is the parent's nodata", qname: "sub.example.test.", qtype: mdns.TypeDS, aa: true, ns: []string{soaNeg}},
	{name: "any is answered with one rrset", qname: "www.example.test.", qtype: mdns.TypeANY, aa: true,
		answer: []string{"www.example.test. 300 IN A 192.0.2.10"}},
	{name: "axfr is refused", qname: "example.test.", qtype: mdns.TypeAXFR, rcode: mdns.RcodeRefused},
	{name: "chaos id.server names the node", qname: "id.server.", qtype: mdns.TypeTXT, qclass: mdns.ClassCHAOS, aa: true,
		answer: []string{`id.server. 0 CH TXT "test-node"`}},
	{name: "chaos hostname.bind names the node", qname: "hostname.bind.", qtype: mdns.TypeTXT, qclass: mdns.ClassCHAOS, aa: true,
		answer: []string{`hostname.bind. 0 CH TXT "test-node"`}},
	{name: "chaos version.bind", qname: "version.bind.", qtype: mdns.TypeTXT, qclass: mdns.ClassCHAOS, aa: true,
		answer: []string{`version.bind. 0 CH TXT "meridian-test"`}},
	{name: "chaos other name is refused", qname: "authors.bind.", qtype: mdns.TypeTXT, qclass: mdns.ClassCHAOS, rcode: mdns.RcodeRefused},
	{name: "class hesiod is refused", qname: "www.example.test.", qtype: mdns.TypeA, qclass: mdns.ClassHESIOD, rcode: mdns.RcodeRefused},
}

func TestAnswers(t *testing.T) {
	h := dnstest.Handler(t, "testdata/zone.toml", nil)
	for _, host := range []string{"127.0.0.1", "::1"} {
		addr := dnstest.Start(t, h, host)
		for _, network := range []string{"udp", "tcp"} {
			for _, tc := range answerCases {
				// Twice: the first reply comes from the slow path, the second from the fast path.
				for _, pass := range []string{"slow", "fast"} {
					t.Run(host+"/"+network+"/"+tc.name+"/"+pass, func(t *testing.T) {
						m := dnstest.Msg(tc.qname, tc.qtype)
						if tc.qclass != 0 {
							m.Question[0].Qclass = tc.qclass
						}
						resp := dnstest.Exchange(t, addr, network, m)
						checkAnswer(t, tc, resp)
					})
				}
			}
		}
	}
}

func checkAnswer(t *testing.T, tc answerCase, resp *mdns.Msg) {
	t.Helper()
	if resp.Rcode != tc.rcode {
		t.Errorf("rcode = %s, want %s", mdns.RcodeToString[resp.Rcode], mdns.RcodeToString[tc.rcode])
	}
	if resp.Authoritative != tc.aa {
		t.Errorf("AA = %v, want %v", resp.Authoritative, tc.aa)
	}
	if resp.RecursionAvailable {
		t.Errorf("RA set; an authoritative-only server must clear it")
	}
	if !resp.Response {
		t.Errorf("QR clear")
	}
	compareRRs(t, "answer", resp.Answer, tc.answer)
	compareRRs(t, "authority", resp.Ns, tc.ns)
	var extra []mdns.RR
	for _, rr := range resp.Extra {
		if rr.Header().Rrtype != mdns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	compareRRs(t, "additional", extra, tc.extra)
}

func compareRRs(t *testing.T, section string, got []mdns.RR, want []string) {
	t.Helper()
	g := make([]string, len(got))
	for i, rr := range got {
		g[i] = rr.String()
	}
	w := make([]string, len(want))
	for i, s := range want {
		w[i] = dnstest.RR(t, s).String()
	}
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s section:\n got  %s\n want %s", section, strings.Join(g, "\n      "), strings.Join(w, "\n      "))
	}
}
