package zone

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/config"
)

// Zone is one authoritative zone: its apex records and a name tree of static RRsets.
type Zone struct {
	Origin string
	SOA    *dns.SOA
	NS     []dns.RR // apex NS RRset
	// negTTL is the TTL of the SOA placed in negative answers: min(SOA TTL, MINIMUM), RFC 2308 §3.
	negTTL uint32
	nodes  map[string]*node
}

// node is everything at one owner name. A node with no rrsets is an empty non-terminal.
type node struct {
	service    *config.Service // a load-balanced name: its A/AAAA answers come from a policy
	rrsets     map[uint16][]dns.RR
	types      []uint16 // present types in ascending order, for ANY
	delegation bool     // NS below the apex: a zone cut
}

func newZone(c *config.Zone) (*Zone, error) {
	z := &Zone{Origin: c.Origin, nodes: map[string]*node{}}
	z.SOA = &dns.SOA{
		Hdr:     dns.RR_Header{Name: c.Origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: c.SOA.TTL},
		Ns:      c.SOA.MName,
		Mbox:    c.SOA.RName,
		Serial:  c.SOA.Serial,
		Refresh: c.SOA.Refresh,
		Retry:   c.SOA.Retry,
		Expire:  c.SOA.Expire,
		Minttl:  c.SOA.Minimum,
	}
	z.negTTL = min(c.SOA.TTL, c.SOA.Minimum)
	z.add(z.SOA)
	for _, ns := range c.NS {
		rr := &dns.NS{Hdr: dns.RR_Header{Name: c.Origin, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: c.NSTTL}, Ns: ns}
		z.NS = append(z.NS, rr)
		z.add(rr)
	}
	for _, r := range c.Records {
		rr, err := dns.NewRR(r.Text)
		if err != nil || rr == nil {
			return nil, fmt.Errorf("line %d: record %q: %v", r.Line, r.Text, err)
		}
		rr.Header().Name = strings.ToLower(rr.Header().Name)
		z.add(rr)
	}
	for i := range c.Services {
		svc := &c.Services[i]
		z.node(svc.Name).service = svc
	}
	for name, n := range z.nodes {
		n.delegation = name != z.Origin && len(n.rrsets[dns.TypeNS]) > 0
		for t := range n.rrsets {
			n.types = append(n.types, t)
		}
		slices.Sort(n.types)
	}
	return z, nil
}

// add files rr under its owner and makes sure every name between it and the apex exists,
// so empty non-terminals answer NODATA rather than NXDOMAIN (RFC 8020).
func (z *Zone) add(rr dns.RR) {
	n := z.node(rr.Header().Name)
	t := rr.Header().Rrtype
	n.rrsets[t] = append(n.rrsets[t], rr)
}

// node returns the node at name, creating it and every missing name up to the apex.
func (z *Zone) node(name string) *node {
	n := z.nodes[name]
	if n == nil {
		n = &node{rrsets: map[uint16][]dns.RR{}}
		z.nodes[name] = n
	}
	for p := parent(name, z.Origin); p != ""; p = parent(p, z.Origin) {
		if _, ok := z.nodes[p]; !ok {
			z.nodes[p] = &node{rrsets: map[uint16][]dns.RR{}}
		}
	}
	return n
}

// parent returns the name one label up, or "" once name is the origin.
func parent(name, origin string) string {
	if name == origin {
		return ""
	}
	i, end := dns.NextLabel(name, 0)
	if end {
		return ""
	}
	return name[i:]
}
