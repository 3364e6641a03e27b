package dns

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns/dnssec"
	"github.com/meridian-gslb/meridian/dns/zone"
)

// secure is what a query asks of DNSSEC: do, the DO bit (RFC 3225: signatures wanted); co,
// Compact Answers OK (RFC 9824 §4: NXDOMAIN with a compact denial).
type secure struct{ do, co bool }

// signers reads every signed zone's keys and makes its signer, publishing its DNSKEY RRset in
// the zone. The config has read the keys once already (config.decodeDNSSEC), so an error here
// means a file changed in between. A signer of running (the serving snapshot's) that would sign
// the same way is kept, with its cache, so a reload does not sign every RRset again.
func signers(cfg *config.Config, zs *zone.Set, m *dnssec.Metrics, running map[*zone.Zone]*dnssec.Signer) (map[*zone.Zone]*dnssec.Signer, error) {
	byOrigin := map[string]*dnssec.Signer{}
	for _, sg := range running {
		byOrigin[sg.Zone()] = sg
	}
	out := map[*zone.Zone]*dnssec.Signer{}
	for _, c := range cfg.Zones {
		if c.DNSSEC == nil {
			continue
		}
		read := func(bases []string, private bool) ([]*dnssec.Key, error) {
			var keys []*dnssec.Key
			for _, b := range bases {
				k, err := dnssec.Read(b, c.Origin, private)
				if err != nil {
					return nil, fmt.Errorf("zone %s: %w", c.Origin, err)
				}
				keys = append(keys, k)
			}
			return keys, nil
		}
		keys, err := read(c.DNSSEC.Keys, true)
		if err != nil {
			return nil, err
		}
		published, err := read(c.DNSSEC.Publish, false)
		if err != nil {
			return nil, err
		}
		sg, err := dnssec.New(c.Origin, keys, published, c.DNSSEC.DNSKEYTTL, dnssec.Options{
			Validity: c.DNSSEC.Validity, Backdate: c.DNSSEC.Backdate, Refresh: c.DNSSEC.Refresh,
		}, m)
		if err != nil {
			return nil, err
		}
		if prev := byOrigin[sg.Zone()]; sg.SameAs(prev) {
			sg = prev
		}
		z := zs.Find(c.Origin)
		z.Publish(sg.DNSKEY())
		out[z] = sg
	}
	return out, nil
}

// sign adds to resp, an answer from the signed zone z, the RRSIGs of its answer and authority
// RRsets and the proof a negative answer or an insecure referral needs (RFC 4035 §3.1), with
// compact denial (RFC 9824): a name that does not exist is answered as one with no data (NSEC
// bitmap: NXNAME), NOERROR unless the query allows NXDOMAIN (CO). Glue and additional
// addresses stay unsigned. It returns the earliest refresh time of the signatures used.
func (s *snapshot) sign(resp *dns.Msg, z *zone.Zone, sg *dnssec.Signer, res zone.Result, qtype uint16, sec secure, now time.Time) (int64, error) {
	refresh := int64(math.MaxInt64)
	var failed error
	signed := func(section []dns.RR) []dns.RR {
		var out []dns.RR
		for len(section) > 0 {
			n := 1
			for n < len(section) && sameRRset(section[0], section[n]) {
				n++
			}
			set := section[:n]
			out = append(out, set...)
			sigs, err := sg.Sign(set, now)
			if err != nil {
				failed = err
			} else {
				out = append(out, sigs.RRSIGs...)
				refresh = min(refresh, sigs.Refresh)
			}
			section = section[n:]
		}
		return out
	}
	deny := func(name string, types []uint16) {
		resp.Ns = append(resp.Ns, dnssec.NSEC(name, types, z.NegativeTTL()))
	}
	switch {
	case res.Kind == zone.Delegation:
		// The NS RRset of a referral is the child's and is not signed; its DS is, or the proof
		// that there is none (an insecure delegation).
		cut := res.Ns[0].Header().Name
		types, _ := z.Types(cut)
		ns := resp.Ns
		var proof []dns.RR
		if ds := z.Lookup(cut, dns.TypeDS); ds.Kind == zone.Success {
			proof = ds.Answer
		} else {
			proof = []dns.RR{dnssec.NSEC(cut, types, z.NegativeTTL())}
		}
		resp.Ns = append(slices.Clone(ns), signed(proof)...)
		return refresh, failed
	case resp.Rcode == dns.RcodeNameError:
		deny(res.Name, []uint16{dnssec.TypeNXNAME})
		if !sec.co {
			resp.Rcode = dns.RcodeSuccess
		}
	case resp.Rcode == dns.RcodeSuccess && nodata(resp, res, qtype):
		types, _ := z.Types(res.Name)
		deny(res.Name, slices.DeleteFunc(slices.Clone(types), func(t uint16) bool { return t == qtype }))
	}
	resp.Answer = signed(resp.Answer)
	resp.Ns = signed(resp.Ns)
	return refresh, failed
}

// nodata reports whether resp, a NOERROR answer, has no record of qtype for res.Name (the end
// of any CNAME chain): a NODATA answer, with the SOA in authority.
func nodata(resp *dns.Msg, res zone.Result, qtype uint16) bool {
	if len(resp.Ns) == 0 || resp.Ns[0].Header().Rrtype != dns.TypeSOA {
		return false
	}
	for _, rr := range resp.Answer {
		if h := rr.Header(); h.Rrtype == qtype && strings.EqualFold(h.Name, res.Name) {
			return false
		}
	}
	return true
}

func sameRRset(a, b dns.RR) bool {
	ha, hb := a.Header(), b.Header()
	return ha.Rrtype == hb.Rrtype && ha.Class == hb.Class && strings.EqualFold(ha.Name, hb.Name)
}
