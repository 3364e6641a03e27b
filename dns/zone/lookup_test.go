package zone

import (
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/config"
)

const zonesTOML = `
[zones."example.test"]
ns = ["ns1"]
[[zones."example.test".records]]
name = "ns1"
type = "A"
data = "192.0.2.1"
[[zones."example.test".records]]
name = "loop1"
type = "CNAME"
data = "loop2"
[[zones."example.test".records]]
name = "loop2"
type = "CNAME"
data = "loop1"
[[zones."example.test".records]]
name = "*.w"
type = "CNAME"
data = "ns1"
[[zones."example.test".records]]
name = "a"
type = "NS"
data = "ns.a"
[[zones."example.test".records]]
name = "ns.a"
type = "A"
data = "192.0.2.53"
[[zones."example.test".records]]
name = "b.a"
type = "A"
data = "192.0.2.54"

[[zones."example.test".records]]
name = "lb"
type = "TXT"
data = "a service name may hold other types"
[[zones."example.test".records]]
name = "alias"
type = "CNAME"
data = "lb"
[zones."example.test".services.lb]
pools = ["p"]
[zones."example.test".services."deep.svc"]
pools = ["p"]

[regions.r]
[pools.p]
region = "r"
endpoints = [{ address = "192.0.2.80" }]

[zones."child.example.test"]
ns = ["ns1.example.test."]
[[zones."child.example.test".records]]
name = "www"
type = "A"
data = "192.0.2.99"
`

func testSet(t *testing.T) *Set {
	t.Helper()
	cfg, err := config.Parse("zones.toml", []byte(zonesTOML))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg.Zones)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFind(t *testing.T) {
	s := testSet(t)
	tests := []struct{ qname, want string }{
		{"example.test.", "example.test."},
		{"www.example.test.", "example.test."},
		{"child.example.test.", "child.example.test."},
		{"deep.www.child.example.test.", "child.example.test."},
		{"xchild.example.test.", "example.test."},
		{"test.", ""},
		{"example.org.", ""},
		{".", ""},
	}
	for _, tc := range tests {
		t.Run(tc.qname, func(t *testing.T) {
			got := ""
			if z := s.Find(tc.qname); z != nil {
				got = z.Origin
			}
			if got != tc.want {
				t.Errorf("Find(%s) = %q, want %q", tc.qname, got, tc.want)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	z := testSet(t).Find("example.test.")
	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		kind    Kind
		answers int
		owners  []string // answer owners, in order
	}{
		{"cname loop is bounded", "loop1.example.test.", dns.TypeA, Success, maxChain, nil},
		{"wildcard cname is renamed and followed", "x.w.example.test.", dns.TypeA, Success, 2, []string{"x.w.example.test.", "ns1.example.test."}},
		{"glue below a cut is not answered authoritatively", "ns.a.example.test.", dns.TypeA, Delegation, 0, nil},
		{"names below a cut are referred", "b.a.example.test.", dns.TypeA, Delegation, 0, nil},
		{"ds at the cut is ours", "a.example.test.", dns.TypeDS, NoData, 0, nil},
		{"any at an empty non-terminal is nodata", "w.example.test.", dns.TypeANY, NoData, 0, nil},
		{"nxdomain", "zz.example.test.", dns.TypeA, NameError, 0, nil},
		{"service answers a", "lb.example.test.", dns.TypeA, Service, 0, nil},
		{"service answers aaaa", "lb.example.test.", dns.TypeAAAA, Service, 0, nil},
		{"any at a service is its a answer", "lb.example.test.", dns.TypeANY, Service, 0, nil},
		{"other types at a service name are static", "lb.example.test.", dns.TypeTXT, Success, 1, nil},
		{"missing types at a service name are nodata", "lb.example.test.", dns.TypeMX, NoData, 0, nil},
		{"cname to a service keeps the cname", "alias.example.test.", dns.TypeA, Service, 1, []string{"alias.example.test."}},
		{"a service's parent is an empty non-terminal", "svc.example.test.", dns.TypeA, NoData, 0, nil},
		{"below a service is nxdomain", "x.lb.example.test.", dns.TypeA, NameError, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := z.Lookup(tc.qname, tc.qtype)
			if res.Kind != tc.kind || len(res.Answer) != tc.answers {
				t.Fatalf("Lookup = %s with %d answers, want %s with %d", res.Kind, len(res.Answer), tc.kind, tc.answers)
			}
			if tc.owners != nil {
				var got []string
				for _, rr := range res.Answer {
					got = append(got, rr.Header().Name)
				}
				if !slices.Equal(got, tc.owners) {
					t.Errorf("owners = %v, want %v", got, tc.owners)
				}
			}
			if res.Kind == Service && (res.Service == nil || res.Service.Name != "lb.example.test." && tc.qname != "deep.svc.example.test.") {
				t.Errorf("service = %+v, want lb.example.test.", res.Service)
			}
			if res.Kind == Delegation {
				if len(res.Ns) != 1 || res.Ns[0].(*dns.NS).Ns != "ns.a.example.test." || len(res.Extra) != 1 {
					t.Errorf("referral Ns=%v Extra=%v, want NS ns.a and its glue", res.Ns, res.Extra)
				}
			}
			if res.Kind == NoData || res.Kind == NameError {
				if len(res.Ns) != 1 || res.Ns[0].Header().Rrtype != dns.TypeSOA || res.Ns[0].Header().Ttl != 60 {
					t.Errorf("negative answer authority = %v, want the SOA with TTL 60", res.Ns)
				}
			}
		})
	}
}

// TestLookupDoesNotMutateZone: wildcard synthesis and the negative SOA are copies.
func TestLookupDoesNotMutateZone(t *testing.T) {
	z := testSet(t).Find("example.test.")
	z.Lookup("x.w.example.test.", dns.TypeA)
	z.Lookup("nope.example.test.", dns.TypeA)
	if got := z.nodes["*.w.example.test."].rrsets[dns.TypeCNAME][0].Header().Name; got != "*.w.example.test." {
		t.Errorf("wildcard owner changed to %s", got)
	}
	if z.SOA.Hdr.Ttl != 300 {
		t.Errorf("zone SOA TTL changed to %d", z.SOA.Hdr.Ttl)
	}
}

// TestFindWithoutZones: a config with no zones is a valid state (every name is outside them),
// and a root-only set finds the root zone for any name; neither may index past the labels.
func TestFindWithoutZones(t *testing.T) {
	empty, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	root, err := New([]config.Zone{{Origin: "."}})
	if err != nil {
		t.Fatal(err)
	}
	for _, qname := range []string{".", "test.", "www.example.test.", "a.b.c.d.e.f."} {
		if z := empty.Find(qname); z != nil {
			t.Errorf("no zones: Find(%s) = %s, want none", qname, z.Origin)
		}
		if z := root.Find(qname); z == nil || z.Origin != "." {
			t.Errorf("root zone: Find(%s) = %v, want the root zone", qname, z)
		}
	}
}
