package zone

import (
	"slices"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/config"
)

// Kind says what a lookup found; the server turns it into the rcode and the AA bit.
type Kind uint8

const (
	Success    Kind = iota // answer holds the records
	NoData                 // the name exists, the type does not: SOA in Ns
	NameError              // NXDOMAIN: SOA in Ns
	Delegation             // referral: NS in Ns, glue in Extra, not authoritative
	Service                // a load-balanced name's A/AAAA: Answer holds any CNAMEs leading to it
)

func (k Kind) String() string {
	return [...]string{"success", "nodata", "nxdomain", "delegation", "service"}[k]
}

// Result is the sections of an answer. The RRs are shared with the zone: callers copy before
// changing one.
type Result struct {
	Kind Kind
	// Name is the name the lookup ended at: qname, or the last in-zone CNAME target followed.
	// A negative answer denies Name.
	Name              string
	Answer, Ns, Extra []dns.RR
	// Service is set with Kind Service: the caller asks its policy for the addresses, owned by
	// Service.Name, and answers NODATA (NegativeSOA) when the policy finds none.
	Service *config.Service
}

// maxChain bounds CNAME chains followed inside the zone.
const maxChain = 8

// Lookup answers qname (lower-case, fully qualified, inside the zone) and qtype.
func (z *Zone) Lookup(qname string, qtype uint16) Result {
	var res Result
	for range maxChain {
		r, target := z.lookupOne(qname, qtype)
		res.Kind, res.Ns, res.Extra, res.Service, res.Name = r.Kind, r.Ns, r.Extra, r.Service, qname
		res.Answer = append(res.Answer, r.Answer...)
		if target == "" || !dns.IsSubDomain(z.Origin, target) {
			break
		}
		qname = target
	}
	if res.Kind == NoData || res.Kind == NameError {
		res.Ns = []dns.RR{z.negativeSOA()}
	}
	return res
}

// lookupOne answers one name without following CNAMEs; target is the CNAME to follow, if any.
func (z *Zone) lookupOne(qname string, qtype uint16) (res Result, target string) {
	if cut := z.cut(qname, qtype); cut != nil {
		return z.referral(cut), ""
	}
	owner := qname
	n := z.nodes[qname]
	if n == nil {
		owner = z.wildcard(qname)
		if owner == "" {
			return Result{Kind: NameError}, ""
		}
		n = z.nodes[owner]
	}
	if n.service != nil && (qtype == dns.TypeA || qtype == dns.TypeAAAA || qtype == dns.TypeANY) {
		return Result{Kind: Service, Service: n.service}, "" // ANY: the A answer (RFC 8482)
	}
	if cname := n.rrsets[dns.TypeCNAME]; len(cname) > 0 && qtype != dns.TypeCNAME {
		rr := synth(cname[0], owner, qname)
		return Result{Kind: Success, Answer: []dns.RR{rr}}, rr.(*dns.CNAME).Target
	}
	var rrs []dns.RR
	if qtype == dns.TypeANY {
		// RFC 8482: one RRset is a complete answer to ANY.
		if len(n.types) > 0 {
			rrs = n.rrsets[n.types[0]]
		}
	} else {
		rrs = n.rrsets[qtype]
	}
	if len(rrs) == 0 {
		return Result{Kind: NoData}, ""
	}
	res = Result{Kind: Success, Answer: synthAll(rrs, owner, qname)}
	res.Extra = z.additional(res.Answer)
	return res, ""
}

// cut returns the NS RRset of the highest zone cut at or above qname, or nil. A DS query at the
// cut itself belongs to this (the parent) side.
func (z *Zone) cut(qname string, qtype uint16) []dns.RR {
	var found []dns.RR
	for name := qname; name != ""; name = parent(name, z.Origin) {
		n := z.nodes[name]
		if n == nil || !n.delegation || (name == qname && qtype == dns.TypeDS) {
			continue
		}
		found = n.rrsets[dns.TypeNS] // keep walking: the highest cut wins
	}
	return found
}

func (z *Zone) referral(ns []dns.RR) Result {
	return Result{Kind: Delegation, Ns: ns, Extra: z.glue(ns)}
}

// wildcard returns the owner "*.<closest encloser>" that synthesises qname, or "" (RFC 4592 §3.3.1).
func (z *Zone) wildcard(qname string) string {
	for name := parent(qname, z.Origin); name != ""; name = parent(name, z.Origin) {
		if _, ok := z.nodes[name]; !ok {
			continue
		}
		// name is the closest encloser.
		w := "*." + name
		if _, ok := z.nodes[w]; ok {
			return w
		}
		return ""
	}
	return ""
}

// additional returns in-zone addresses for the targets of MX, SRV and NS answers.
func (z *Zone) additional(answer []dns.RR) []dns.RR {
	var extra []dns.RR
	for _, rr := range answer {
		var target string
		switch v := rr.(type) {
		case *dns.MX:
			target = v.Mx
		case *dns.SRV:
			target = v.Target
		case *dns.NS:
			target = v.Ns
		default:
			continue
		}
		extra = append(extra, z.addresses(target)...)
	}
	return extra
}

// glue returns the A/AAAA records this zone holds for the name servers of a referral.
func (z *Zone) glue(ns []dns.RR) []dns.RR {
	var extra []dns.RR
	for _, rr := range ns {
		extra = append(extra, z.addresses(rr.(*dns.NS).Ns)...)
	}
	return extra
}

func (z *Zone) addresses(name string) []dns.RR {
	n := z.nodes[name]
	if n == nil {
		return nil
	}
	out := append([]dns.RR(nil), n.rrsets[dns.TypeA]...)
	return append(out, n.rrsets[dns.TypeAAAA]...)
}

// Types returns the record types at name, in ascending order, and whether name exists in the
// zone: a node (an empty non-terminal included) or a name a wildcard synthesises. A service
// has A and AAAA. This is what a compact denial's NSEC bitmap lists (RFC 9824).
func (z *Zone) Types(name string) ([]uint16, bool) {
	n := z.nodes[name]
	if n == nil {
		w := z.wildcard(name)
		if w == "" {
			return nil, false
		}
		n = z.nodes[w]
	}
	types := n.types
	if n.service != nil {
		types = append(slices.Clone(types), dns.TypeA, dns.TypeAAAA)
		slices.Sort(types)
		types = slices.Compact(types)
	}
	return types, true
}

// Publish adds rrs (one RRset, such as the DNSKEY RRset, owned by the apex) to the zone. Only
// while the zone is being built, before it serves a query.
func (z *Zone) Publish(rrs []dns.RR) {
	for _, rr := range rrs {
		z.add(rr)
	}
	n := z.nodes[z.Origin]
	n.types = n.types[:0]
	for t := range n.rrsets {
		n.types = append(n.types, t)
	}
	slices.Sort(n.types)
}

// NegativeTTL is the TTL of negative answers: min(SOA TTL, MINIMUM), RFC 2308 §3 (and of a
// compact denial's NSEC, RFC 9077).
func (z *Zone) NegativeTTL() uint32 { return z.negTTL }

// NegativeSOA is the SOA for a negative answer's authority section, with the RFC 2308 TTL.
func (z *Zone) NegativeSOA() dns.RR { return z.negativeSOA() }

func (z *Zone) negativeSOA() dns.RR {
	soa := dns.Copy(z.SOA)
	soa.Header().Ttl = z.negTTL
	return soa
}

// synthAll renames a wildcard's RRset to the query name (RFC 4592 §3.3.1); exact matches are
// returned as they are.
func synthAll(rrs []dns.RR, owner, qname string) []dns.RR {
	if owner == qname {
		return rrs
	}
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = synth(rr, owner, qname)
	}
	return out
}

func synth(rr dns.RR, owner, qname string) dns.RR {
	if owner == qname {
		return rr
	}
	c := dns.Copy(rr)
	c.Header().Name = qname
	return c
}
