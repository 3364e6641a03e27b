package zone

import (
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// Records returns every static record of the zone but the SOA, ordered by name with labels
// compared from the right (as RFC 4034 §6.1 orders names) and by type within a name: the apex
// NS first, delegations with their glue, wildcards as written. Load-balanced names' addresses are not among them (the caller decides
// what a service transfers as). The RRs are shared with the zone.
func (z *Zone) Records() []dns.RR {
	names := make([]string, 0, len(z.nodes))
	for name, n := range z.nodes {
		if len(n.rrsets) > 0 {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, canonicalCompare)
	var out []dns.RR
	for _, name := range names {
		n := z.nodes[name]
		for _, t := range n.types {
			if t != dns.TypeSOA {
				out = append(out, n.rrsets[t]...)
			}
		}
	}
	return out
}

// SetSerial replaces the SOA serial. Only while the zone is being built, before it serves a
// query: a transfer-aware caller keeps the serial unchanged when the content is, and raises it
// when the content changed without a higher configured serial.
func (z *Zone) SetSerial(serial uint32) { z.SOA.Serial = serial }

// canonicalCompare orders names label by label from the right, each compared as lower-case
// text (RFC 4034 §6.1 but for escaped labels, which only order a transfer, never matter to it).
func canonicalCompare(a, b string) int {
	la, lb := dns.SplitDomainName(a), dns.SplitDomainName(b)
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if c := strings.Compare(strings.ToLower(la[i]), strings.ToLower(lb[j])); c != 0 {
			return c
		}
	}
	return len(la) - len(lb)
}
