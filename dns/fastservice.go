package dns

import (
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/dns/dnssec"
	"github.com/meridian-gslb/meridian/dns/policy"
	"github.com/meridian-gslb/meridian/dns/zone"
)

// The fast path for load-balanced names: a plain A or AAAA query for a service name, with or
// without EDNS and an ECS option, is decided by the policy and its reply written by hand, with
// no message parsed or packed. The bytes are what the slow path sends for the same decision
// (TestServiceFastPathMatchesSlowPath); anything else — NODATA and SERVFAIL outcomes, replies
// that need truncation, CNAMEs leading to a service, other options — takes the slow path.

// fastService is one (service, address type) the fast path answers, metrics resolved.
type fastService struct {
	svc      *service
	family   int
	rrtype   uint16
	queries  [2]prometheus.Counter // by Proto
	duration prometheus.Observer
	// signer signs the zone (nil: unsigned); owner is the name's lower-case wire form.
	signer *dnssec.Signer
	owner  []byte
}

// fastServices indexes every service name that a zone lookup resolves straight to its service,
// for A and AAAA, by the question's wire form.
func fastServices(zs *zone.Set, services map[string]*service, signers map[*zone.Zone]*dnssec.Signer, m *metrics) map[string]*fastService {
	out := map[string]*fastService{}
	for name, svc := range services {
		z := zs.Find(name)
		if z == nil {
			continue
		}
		for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
			res := z.Lookup(name, t)
			if res.Kind != zone.Service || len(res.Answer) > 0 || res.Service.Name != name {
				continue
			}
			wire := make([]byte, 256)
			n, err := dns.PackDomainName(name, wire, 0, nil, false)
			if err != nil {
				continue
			}
			wire = append(wire[:n], byte(t>>8), byte(t), 0, byte(dns.ClassINET))
			family := 4
			if t == dns.TypeAAAA {
				family = 6
			}
			qt, rc := qtypeLabel(t), rcodeLabel(dns.RcodeSuccess)
			out[string(wire)] = &fastService{
				svc: svc, family: family, rrtype: t,
				queries: [2]prometheus.Counter{
					m.queries.WithLabelValues(z.Origin, qt, rc, UDP.String()),
					m.queries.WithLabelValues(z.Origin, qt, rc, TCP.String()),
				},
				duration: m.duration.WithLabelValues(z.Origin),
				signer:   signers[z],
				owner:    wire[:n:n],
			}
		}
	}
	return out
}

// respondService decides and writes the reply into out, or returns nil for the slow path.
func (s *snapshot) respondService(fs *fastService, out, req []byte, q *query, ck *cookieState, proto Proto, src netip.Addr) []byte {
	var ecs ecsInfo
	if q.ecs > 0 {
		ecs = ecsFromWire(req[q.ecs:])
	}
	room := roomPool.Get().(*policy.Room) // the decision's addresses and pools: no allocation per query
	defer roomPool.Put(room)              // nothing keeps d past the reply (dnstap gets a copy)
	d := s.decide(fs.svc, fs.family, src, ecs, false, room)
	if q.trace != nil {
		q.trace.d = traced(d, fs.svc) // the dnstap writer reads it later: its own copy
	}
	if d.Outcome != policy.Answer {
		return nil
	}
	rdlen := 4
	if fs.rrtype == dns.TypeAAAA {
		rdlen = 16
	}
	size := q.nameEnd + 4 + len(d.Addrs)*(12+rdlen)
	optLen, ecsLen := 0, 0
	if q.edns != noEDNS {
		optLen = 11
		if q.ecs > 0 {
			ecsLen = 4 + int(u16(req[q.ecs+2:]))
			optLen += ecsLen
		}
		if ck.present {
			optLen += cookieOptLen
		}
	}
	limit := q.limit(proto, s.ednsMax)
	if l := s.cookies.limitFor(ck); proto == UDP && l > 0 {
		limit = min(limit, l) // too big without a cookie: the slow path sends it truncated
	}
	ttl := fs.svc.ttlFor(d.Decision)
	var sigs *dnssec.Sigs
	if fs.signer != nil && q.edns == ednsDO1 {
		if sigs = fs.sign(d.Addrs, ttl); sigs == nil {
			return nil // the slow path signs it (and says why it cannot)
		}
		for _, w := range sigs.Wire {
			size += 2 + len(w)
		}
	}
	if size+optLen > limit || size+optLen > cap(out) {
		return nil
	}
	ancount := len(d.Addrs)
	if sigs != nil {
		ancount += len(sigs.Wire)
	}
	b := out[:0]
	// Header: the query's ID, QR AA and the query's RD; CD copied; NOERROR.
	b = append(b, req[0], req[1], byte(flagQR>>8)|0x04|req[2]&byte(flagRD>>8), req[3]&byte(flagCD),
		0, 1, byte(ancount>>8), byte(ancount), 0, 0, 0, 0)
	if optLen > 0 {
		b[11] = 1
	}
	b = append(b, req[headerLen:q.nameEnd+4]...) // the question as asked (letter case kept)
	for _, a := range d.Addrs {
		// Owner: a pointer to the question name at offset 12.
		b = append(b, 0xC0, headerLen, byte(fs.rrtype>>8), byte(fs.rrtype), 0, byte(dns.ClassINET),
			byte(ttl>>24), byte(ttl>>16), byte(ttl>>8), byte(ttl), 0, byte(rdlen))
		if rdlen == 4 {
			a4 := a.As4()
			b = append(b, a4[:]...)
		} else {
			a16 := a.As16()
			b = append(b, a16[:]...)
		}
	}
	if sigs != nil {
		for _, w := range sigs.Wire {
			b = append(b, 0xC0, headerLen)
			b = append(b, w...)
		}
	}
	if optLen > 0 {
		var do byte
		if q.edns == ednsDO1 {
			do = byte(flagDO >> 8)
		}
		b = append(b, 0, 0, typeOPT, byte(s.ednsMax>>8), byte(s.ednsMax), 0, 0, do, 0,
			byte((optLen-11)>>8), byte(optLen-11))
		if q.ecs > 0 {
			o := len(b)
			b = append(b, req[q.ecs:q.ecs+ecsLen]...) // the client's option echoed ...
			b[o+7] = d.scope                          // ... with our scope
		}
		if ck.present {
			b = s.cookies.appendOption(b, ck, src)
		}
	}
	fs.svc.decisions[d.Outcome].Inc()
	fs.svc.count(&d.Decision)
	return b
}

// roomPool holds the fast path's policy.Rooms: a geo or weighted answer took one small
// allocation per query for its addresses, and at 150k q/s the garbage collections that made
// raised the p99 to 2-3x gdnsd's (0.68x with GOGC=off).
var roomPool = sync.Pool{New: func() any { return new(policy.Room) }}

// traced is d for a dnstap trace, with svc: its addresses and pools copied out of the fast
// path's room, which the next query reuses while the dnstap writer may still read them.
func traced(d decision, svc *service) decision {
	d.svc = svc
	d.Addrs, d.Pools = slices.Clone(d.Addrs), slices.Clone(d.Pools)
	return d
}

// sign returns the signatures of the answer addrs with ttl, cached per distinct address set, or
// nil when they cannot be made.
func (fs *fastService) sign(addrs []netip.Addr, ttl uint32) *dnssec.Sigs {
	now := time.Now()
	var scratch [512]byte
	key := dnssec.AppendAddrKey(scratch[:0], fs.owner, fs.rrtype, ttl, addrs)
	if sigs := fs.signer.Cached(key, now.Unix()); sigs != nil {
		return sigs
	}
	rrset := make([]dns.RR, len(addrs))
	for i, a := range addrs {
		hdr := dns.RR_Header{Name: fs.svc.name, Rrtype: fs.rrtype, Class: dns.ClassINET, Ttl: ttl}
		if fs.rrtype == dns.TypeA {
			rrset[i] = &dns.A{Hdr: hdr, A: a.AsSlice()}
		} else {
			rrset[i] = &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()}
		}
	}
	sigs, err := fs.signer.SignAs(key, rrset, now)
	if err != nil {
		return nil
	}
	return sigs
}
