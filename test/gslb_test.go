package test

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/geo/geotest"
	mdns "github.com/miekg/dns"
)

// TestPolicyAnswers asks the real dig for the services of testdata/gslb.toml.tmpl, each with an
// ECS subnet: none of these answers depends on where the client is, so every reply echoes
// ECS with scope 0.
func TestPolicyAnswers(t *testing.T) {
	n, _ := startGSLBNode(t, "gslb.toml.tmpl", "")
	soa := "example.test. 60 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 3600 600 604800 60"
	tests := []struct {
		name, qname, qtype string
		answer             []string // addresses, sorted
		records            []string // whole answer records, when not addresses of a service
		nodata             bool     // NOERROR, empty answer, the SOA in authority
	}{
		{name: "failover answers from the first pool", qname: "failover", qtype: "A",
			answer: []string{"127.0.20.1", "127.0.20.2"}},
		{name: "all-disabled pool is skipped", qname: "skip", qtype: "A",
			answer: []string{"127.0.21.1"}},
		{name: "only pool all-disabled is nodata", qname: "dark", qtype: "A", nodata: true},
		{name: "only pool all-disabled is nodata for aaaa", qname: "dark", qtype: "AAAA", nodata: true},
		{name: "aaaa answers the ipv6 endpoints", qname: "dual", qtype: "AAAA",
			answer: []string{"2001:db8::40:1", "2001:db8::40:2"}},
		{name: "a answers the ipv4 endpoint of the same pool", qname: "dual", qtype: "A",
			answer: []string{"127.0.40.1"}},
		{name: "aaaa skips a pool without ipv6", qname: "mixed", qtype: "AAAA",
			answer: []string{"2001:db8::40:1", "2001:db8::40:2"}},
		{name: "a still answers from the first pool", qname: "mixed", qtype: "A",
			answer: []string{"127.0.20.1", "127.0.20.2"}},
		{name: "aaaa without ipv6 endpoints is nodata", qname: "failover", qtype: "AAAA", nodata: true},
		{name: "static name", qname: "ns1", qtype: "A",
			records: []string{"ns1.example.test. 300 IN A 127.0.0.1"}},
	}
	cmds := make([][]string, len(tests))
	for i, tc := range tests {
		cmds[i] = digArgs(n.ports.DNS, tc.qname+".example.test", tc.qtype, "+subnet=8.8.8.0/24")
	}
	outs := outputs(t, cmds)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := parseDig(outs[i])
			if r.status != "NOERROR" || !r.hasFlag("aa") {
				t.Errorf("status %s, flags %v; want NOERROR with aa", r.status, r.flags)
			}
			switch {
			case tc.nodata:
				if len(r.answer) != 0 || !slices.Equal(r.auth, []string{soa}) {
					t.Errorf("answer %q, authority %q; want NODATA: no answer, authority [%s]", r.answer, r.auth, soa)
				}
			case tc.records != nil:
				if !slices.Equal(r.answer, tc.records) {
					t.Errorf("answer %q, want %q", r.answer, tc.records)
				}
			default:
				if got := addrs(r.answer); !slices.Equal(got, tc.answer) || len(r.answer) != len(tc.answer) {
					t.Errorf("answer %q (addresses %v), want addresses %v", r.answer, got, tc.answer)
				}
			}
			if scope, ok := ecsScope(r); !ok || scope != 0 {
				t.Errorf("ECS scope %d (echoed %v), want 0\n%s", scope, ok, r.options)
			}
		})
	}
}

// TestWeightedShares sends 10,000 queries for a service with weights 1, 3 and 6 and one answer
// each: every address's share must be within 3 percentage points of 10, 30 and 60%.
func TestWeightedShares(t *testing.T) {
	n, _ := startGSLBNode(t, "gslb.toml.tmpl", "")
	const (
		workers = 4
		queries = 10000
	)
	want := map[string]float64{"127.0.10.1": 0.10, "127.0.10.2": 0.30, "127.0.10.3": 0.60}
	c := udpClient()
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		wg     sync.WaitGroup
	)
	for range workers {
		e := newExchanger(t, c, n.ports.DNS)
		wg.Go(func() {
			local := map[string]int{}
			for range queries / workers {
				resp, err := e.query("weighted.example.test", mdns.TypeA, netip.Prefix{})
				if err != nil {
					t.Error(err)
					return
				}
				got := answerAddrs(resp)
				if len(got) != 1 {
					t.Errorf("answer %v, want one address", got)
					return
				}
				local[got[0]]++
			}
			mu.Lock()
			defer mu.Unlock()
			for a, k := range local {
				counts[a] += k
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for a := range counts {
		if _, ok := want[a]; !ok {
			t.Errorf("answered %s %d times, want only %v", a, counts[a], slices.Sorted(maps.Keys(want)))
		}
	}
	for a, share := range want {
		got := float64(counts[a]) / queries
		if got < share-0.03 || got > share+0.03 {
			t.Errorf("%s: share %.1f%% (%d of %d), want %.0f%% ± 3", a, 100*got, counts[a], queries, 100*share)
		}
	}
	t.Logf("shares of %d: %v", queries, counts)
}

// TestHashSticky: with select = "hash" a client subnet keeps its answer, query after query,
// and the answer depends on the subnet only (scope: the hashed /24 or the source prefix).
func TestHashSticky(t *testing.T) {
	n, _ := startGSLBNode(t, "gslb.toml.tmpl", "")
	e := newExchanger(t, udpClient(), n.ports.DNS)
	ask := func(t *testing.T, subnet string) (string, int) {
		t.Helper()
		resp, err := e.query("sticky.example.test", mdns.TypeA, netip.MustParsePrefix(subnet))
		if err != nil {
			t.Fatal(err)
		}
		got := answerAddrs(resp)
		if len(got) != 1 {
			t.Fatalf("ECS %s: answer %v, want one address", subnet, got)
		}
		return got[0], replyScope(resp)
	}
	tests := []struct {
		name    string
		subnets []string // all must get the same answer, 20 times each
		scope   int
	}{
		{"one ipv4 /24", []string{"20.1.2.0/24"}, 24},
		{"another ipv4 /24", []string{"151.101.7.0/24"}, 24},
		{"hosts of one /24", []string{"20.1.3.0/24", "20.1.3.7/32", "20.1.3.200/32"}, 24},
		{"one ipv6 /48", []string{"2001:4860:1::/48"}, 48},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			first, _ := ask(t, tc.subnets[0])
			for _, s := range tc.subnets {
				for i := range 20 {
					got, scope := ask(t, s)
					if got != first {
						t.Fatalf("ECS %s, query %d: answer %s, want %s as for %s", s, i+1, got, first, tc.subnets[0])
					}
					if scope != tc.scope {
						t.Fatalf("ECS %s: scope %d, want %d", s, scope, tc.scope)
					}
				}
			}
		})
	}
	t.Run("spread over 200 subnets", func(t *testing.T) {
		used := map[string]int{}
		for i := range 200 {
			got, _ := ask(t, fmt.Sprintf("20.%d.%d.0/24", 2+i/100, i%100))
			used[got]++
		}
		if len(used) < 2 {
			t.Errorf("200 subnets used endpoints %v, want more than one", used)
		}
		t.Logf("endpoints used: %v", used)
	})
}

// TestExplainMatchesDig: `meridian explain -subnet S` must report the answer a real query with
// ECS S gets, over UDP and over TCP, for subnets on every continent (geo with answers = the
// pool's size, so the set of addresses is deterministic).
func TestExplainMatchesDig(t *testing.T) {
	n, path := startGSLBNode(t, "geolite2.toml.tmpl", geotest.GeoLite2(t, "GeoLite2-City.mmdb"))
	tests := []struct {
		name, subnet, region string
	}{
		{"north america", "8.8.8.0/24", "na"},
		{"south america", "200.160.2.0/24", "na"},
		{"europe", "193.0.6.0/24", "eu"},
		{"africa", "41.0.0.0/24", "eu"},
		{"asia", "1.0.16.0/24", "ap"},
		{"oceania", "130.216.0.0/24", "ap"},
		{"asia ipv6", "2001:200::/48", "ap"},
		{"private subnet", "10.1.2.0/24", "na"},
	}
	// The server scopes replies by its merged ECS scope maps once they are built, as explain
	// does before it answers: wait for them, then compare.
	waitLog(t, n, "ECS scope map ready", 30*time.Second)
	explainCmd := []string{"meridian", "explain", "-c", path}
	var cmds [][]string
	for _, tc := range tests {
		explainCmd = append(explainCmd, "-subnet", tc.subnet)
		cmds = append(cmds,
			digArgs(n.ports.DNS, "www.example.test", "A", "+subnet="+tc.subnet),
			digArgs(n.ports.DNS, "+tcp", "www.example.test", "A", "+subnet="+tc.subnet))
	}
	cmds = append(cmds, append(explainCmd, "www.example.test"))
	outs := outputs(t, cmds)
	explained := strings.Split(outs[len(outs)-1], ";; explain ")[1:] // one block per -subnet, in order
	if len(explained) != len(tests) {
		t.Fatalf("explain printed %d explanations for %d subnets:\n%s", len(explained), len(tests), outs[len(outs)-1])
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex := explainReply(t, explained[i])
			want := addrs(ex.answer)
			if !slices.Equal(want, regionPool[tc.region]) {
				t.Errorf("explain -subnet %s: answer %v, want region %s's %v\n%s", tc.subnet, want, tc.region, regionPool[tc.region], explained[i])
			}
			exScope, ok := ecsScope(ex)
			if !ok {
				t.Errorf("explain -subnet %s: reply without ECS\n%s", tc.subnet, explained[i])
			}
			for j, proto := range []string{"udp", "tcp"} {
				r := parseDig(outs[2*i+j])
				if !strings.Contains(r.raw, "("+strings.ToUpper(proto)+")") {
					t.Errorf("dig over %s: reply not received over %s\n%s", proto, proto, r.raw)
				}
				if got := addrs(r.answer); !slices.Equal(got, want) {
					t.Errorf("dig +subnet=%s over %s: answer %v, explain says %v", tc.subnet, proto, got, want)
				}
				if got, _ := ecsScope(r); got != exScope {
					t.Errorf("dig +subnet=%s over %s: ECS scope %d, explain says %d", tc.subnet, proto, got, exScope)
				}
			}
		})
	}
}
