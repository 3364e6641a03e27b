package dns

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/dns/dnssec"
	"github.com/meridian-gslb/meridian/dns/policy"
	"github.com/meridian-gslb/meridian/dns/zone"
)

// outcome is what the slow path decided about one query, for metrics and the cache.
type outcome struct {
	zone      string // metrics label: the zone's origin, or "none"
	qtype     uint16
	cacheable bool        // the reply depends on nothing but the question and the EDNS form (and a cookie)
	cookie    cookieState // the query's COOKIE option; present: our option is the OPT's last
	// refresh: the reply carries signatures due to be made anew from this Unix second; 0: none.
	refresh int64
}

// trace is where the policy decision of one query is copied: for explain, which also has the
// policy say its steps, or for the dnstap log.
type trace struct {
	explain bool
	d       decision
}

// slow answers any query with miekg/dns, and prepares the reply for the fast path when it can.
func (h *Handler) slow(s *snapshot, out, req []byte, proto Proto, src netip.AddrPort, start time.Time) []byte {
	return h.slowTrace(s, out, req, proto, src, start, nil)
}

// slowTrace is slow, copying a policy decision into tr when tr is not nil.
func (h *Handler) slowTrace(s *snapshot, out, req []byte, proto Proto, src netip.AddrPort, start time.Time, tr *trace) []byte {
	if len(req) < headerLen {
		h.metrics.dropped.WithLabelValues("short").Inc()
		return nil
	}
	if u16(req[2:])&flagQR != 0 {
		// Never answer a response: that is how reflection loops start.
		h.metrics.dropped.WithLabelValues("response").Inc()
		return nil
	}
	var m dns.Msg
	err := m.Unpack(req)
	if err == nil {
		err = checkCounts(req, &m)
	}
	if err == nil {
		err = checkECSLength(req)
	}
	if err != nil {
		h.log.Debug("malformed query", "client", src, "err", err)
		resp := formErr(out, req)
		h.count(outcome{zone: "none"}, dns.RcodeFormatError, proto, start)
		return h.limitUDP(s, resp, proto, src.Addr(), &cookieState{})
	}
	if m.IsTsig() != nil {
		return h.signed(s, &m, req, proto, src, start, tr) // tsig.go
	}
	resp, oc := s.build(&m, proto, src.Addr(), tr)
	truncated := false
	if proto == UDP {
		limit := replyLimit(proto, m.IsEdns0() != nil, udpSize(&m), s.ednsMax)
		if l := s.cookies.limitFor(&oc.cookie); l > 0 && l < limit {
			limit = l // no valid server cookie: a big answer only over TCP (or with the cookie)
		}
		truncated = truncate(resp, limit)
	}
	resp.Compress = true
	wire, err := resp.PackBuffer(out)
	if err != nil {
		h.log.Error("pack reply", "qname", m.Question, "client", src, "err", err)
		resp = new(dns.Msg).SetRcode(&m, dns.RcodeServerFailure)
		resp.Question = nil
		wire, _ = resp.Pack()
		oc.cacheable = false
	}
	if end := questionName(req); end > 0 && end <= len(wire) && len(resp.Question) == 1 {
		copy(wire[headerLen:end], req[headerLen:end]) // the client's letter case, see doc.go
	}
	if truncated {
		h.metrics.truncated.Inc()
	}
	e := h.count(oc, resp.Rcode, proto, start)
	var q query
	if oc.cacheable && !truncated && parseFast(req, &q) && q.ecs == 0 {
		cached := wire
		if oc.cookie.present { // the prepared copy has no COOKIE option: each reply gets its own
			opt := resp.IsEdns0()
			opt.Option = opt.Option[:len(opt.Option)-1]
			if cached, err = resp.Pack(); err != nil {
				return wire
			}
		}
		e.wire = append([]byte(nil), cached...)
		e.optRdlen, e.optEnd, _ = findOPT(e.wire)
		e.refresh = oc.refresh
		s.cache.put(q.key(), e)
	}
	return h.limitUDP(s, wire, proto, src.Addr(), &oc.cookie)
}

// count records one slow-path answer and returns the entry the fast path would use for it.
func (h *Handler) count(oc outcome, rcode int, proto Proto, start time.Time) *entry {
	qt, rc := qtypeLabel(oc.qtype), rcodeLabel(rcode)
	e := &entry{
		queries: [2]prometheus.Counter{
			h.metrics.queries.WithLabelValues(oc.zone, qt, rc, UDP.String()),
			h.metrics.queries.WithLabelValues(oc.zone, qt, rc, TCP.String()),
		},
		duration: h.metrics.duration.WithLabelValues(oc.zone),
	}
	e.queries[proto].Inc()
	e.duration.Observe(time.Since(start).Seconds())
	return e
}

// build turns a parsed query into the reply message, following DESIGN.md's DNS contract. With
// tr non-nil, a policy decision is copied into tr.d (with tr.explain, made with its explanation).
func (s *snapshot) build(m *dns.Msg, proto Proto, src netip.Addr, tr *trace) (*dns.Msg, outcome) {
	oc := outcome{zone: "none"}
	resp := new(dns.Msg)
	resp.SetReply(m)
	if len(m.Question) == 1 {
		oc.qtype = m.Question[0].Qtype
	}
	opt, rcode := s.edns(m, resp, proto, src, &oc.cookie)
	switch {
	case rcode != dns.RcodeSuccess:
		resp.Rcode = rcode
		return resp, oc
	case m.Opcode != dns.OpcodeQuery:
		resp.Rcode = dns.RcodeNotImplemented
		return resp, oc
	case len(m.Question) != 1:
		resp.Question = nil
		resp.Rcode = dns.RcodeFormatError
		return resp, oc
	}
	q := &resp.Question[0]
	q.Name = strings.ToLower(q.Name)
	// A COOKIE option changes only the option we add, which the cached copy leaves out.
	oc.cacheable = opt == nil || len(opt.Option) == 0 || len(opt.Option) == 1 && oc.cookie.present
	switch q.Qclass {
	case dns.ClassINET:
		var service bool
		var sec secure
		if opt != nil && opt.Do() {
			sec = secure{do: true, co: opt.Hdr.Ttl&dnssec.FlagCO != 0}
		}
		oc.zone, service, oc.refresh = s.answerIN(resp, q.Name, q.Qtype, src, clientSubnet(opt), tr, sec)
		oc.cacheable = oc.cacheable && !service
	case dns.ClassCHAOS:
		s.answerCH(resp, q.Name, q.Qtype)
	default:
		resp.Rcode = dns.RcodeRefused
	}
	return resp, oc
}

// answerIN fills resp from our zones and returns the zone label, whether the answer came
// from a policy (and so may differ per client and per query), and for a signed zone asked with
// the DO bit when its signatures are due for a refresh (Unix seconds; 0: unsigned).
func (s *snapshot) answerIN(resp *dns.Msg, qname string, qtype uint16, src netip.Addr, ecs ecsInfo, tr *trace, sec secure) (string, bool, int64) {
	switch qtype {
	case dns.TypeOPT, dnssec.TypeNXNAME: // NXNAME: a meta-type, never asked for (RFC 9824 §3.5)
		resp.Rcode = dns.RcodeFormatError
		return "none", false, 0
	case dns.TypeAXFR, dns.TypeIXFR:
		resp.Rcode = dns.RcodeRefused // over UDP: transfers are TCP only, served by xfr.go before the query path
		return "none", false, 0
	}
	z := s.zones.Find(qname)
	if z == nil {
		resp.Rcode = dns.RcodeRefused
		return "none", false, 0
	}
	res := z.Lookup(qname, qtype)
	resp.Answer, resp.Ns = res.Answer, res.Ns
	resp.Extra = append(res.Extra, resp.Extra...) // keep our OPT last
	service := res.Kind == zone.Service
	switch res.Kind {
	case zone.Service:
		s.answerService(resp, z, res.Service.Name, qtype, src, ecs, tr)
	case zone.NameError:
		resp.Rcode = dns.RcodeNameError
		resp.Authoritative = true
	case zone.Delegation:
		resp.Authoritative = false
	default:
		resp.Authoritative = true
	}
	var refresh int64
	if sg := s.signers[z]; sg != nil && sec.do {
		var err error
		if refresh, err = s.sign(resp, z, sg, res, qtype, sec, time.Now()); err != nil {
			resp.Answer, resp.Ns, resp.Rcode = nil, nil, dns.RcodeServerFailure
			return z.Origin, service, 0
		}
	}
	return z.Origin, service, refresh
}

// answerService appends the addresses the service's policy picks for this client.
func (s *snapshot) answerService(resp *dns.Msg, z *zone.Zone, name string, qtype uint16, src netip.Addr, ecs ecsInfo, tr *trace) {
	resp.Authoritative = true
	svc := s.services[name]
	if svc == nil { // cannot happen: services are built from the same config as the zones
		resp.Rcode = dns.RcodeServerFailure
		return
	}
	family := 4
	if qtype == dns.TypeAAAA {
		family = 6
	}
	explain := tr != nil && tr.explain
	d := s.decide(svc, family, src, ecs, explain, nil)
	if tr != nil {
		tr.d, tr.d.svc = d, svc
	}
	if !explain {
		svc.decisions[d.Outcome].Inc()
		svc.count(&d.Decision)
	}
	switch d.Outcome {
	case policy.Answer:
		for _, a := range d.Addrs {
			hdr := dns.RR_Header{Name: svc.name, Class: dns.ClassINET, Ttl: svc.ttlFor(d.Decision)}
			if a.Is4() {
				hdr.Rrtype = dns.TypeA
				resp.Answer = append(resp.Answer, &dns.A{Hdr: hdr, A: a.AsSlice()})
			} else {
				hdr.Rrtype = dns.TypeAAAA
				resp.Answer = append(resp.Answer, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
			}
		}
	case policy.NoData:
		resp.Ns = append(resp.Ns, z.NegativeSOA())
	case policy.ServFail:
		resp.Rcode = dns.RcodeServerFailure
	}
	setScope(resp, d.scope)
}

// answerCH answers the CHAOS-class identity queries operators use to tell nodes apart.
func (s *snapshot) answerCH(resp *dns.Msg, qname string, qtype uint16) {
	var txt string
	switch qname {
	case "id.server.", "hostname.bind.":
		txt = s.node
	case "version.bind.", "version.server.":
		txt = s.version
	}
	if txt == "" {
		resp.Rcode = dns.RcodeRefused
		return
	}
	resp.Authoritative = true
	if qtype != dns.TypeTXT && qtype != dns.TypeANY {
		return // NODATA
	}
	resp.Answer = []dns.RR{&dns.TXT{
		Hdr: dns.RR_Header{Name: qname, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS},
		Txt: []string{txt},
	}}
}

// checkCounts: miekg/dns stops unpacking a section at the end of the message and shortens its
// count to what it found, so a header that promises more records than the message holds (say
// 65535 questions and none present) parses; RFC 1035 §4.1.1 makes that a format error.
func checkCounts(req []byte, m *dns.Msg) error {
	want := [4]uint16{u16(req[4:]), u16(req[6:]), u16(req[8:]), u16(req[10:])}
	got := [4]int{len(m.Question), len(m.Answer), len(m.Ns), len(m.Extra)}
	for i, sec := range [4]string{"question", "answer", "authority", "additional"} {
		if got[i] != int(want[i]) {
			return fmt.Errorf("header promises %d %s records, the message holds %d", want[i], sec, got[i])
		}
	}
	return nil
}

// formErr is the header-only FORMERR for a query whose body does not parse; the ID, opcode and
// RD bit come from the query's header.
func formErr(out, req []byte) []byte {
	resp := append(out[:0], req[:headerLen]...)
	resp[2] = req[2]&(byte(flagOpcode>>8)|byte(flagRD>>8)) | byte(flagQR>>8)
	resp[3] = byte(dns.RcodeFormatError)
	for i := 4; i < headerLen; i++ {
		resp[i] = 0
	}
	return resp
}

// checkECSLength refuses an ECS option whose address has another number of bytes than its
// source prefix needs (RFC 7871 §6: FORMERR). miekg/dns pads a short address when it unpacks
// one, so this reads the option from the wire; req has unpacked already, so its structure is sound.
func checkECSLength(req []byte) error {
	var err error
	eachRR(req, func(typ uint16, rdlenOff int, rd []byte) bool {
		for typ == typeOPT && len(rd) >= 4 {
			code, l := u16(rd), int(u16(rd[2:]))
			if 4+l > len(rd) {
				break
			}
			if code == optionECS && l >= 4 {
				if source := int(rd[6]); l-4 != (source+7)/8 {
					err = fmt.Errorf("ECS option: %d address bytes for a /%d source prefix, want %d", l-4, source, (source+7)/8)
					return false
				}
			}
			rd = rd[4+l:]
		}
		return true
	})
	return err
}

// eachRR calls f with every record of the wire message b after its questions: its type, the
// offset of its RDLENGTH and its RDATA, until f returns false or the message ends or breaks.
func eachRR(b []byte, f func(typ uint16, rdlenOff int, rdata []byte) bool) {
	if len(b) < headerLen {
		return
	}
	off := headerLen
	for range u16(b[4:]) {
		if off = skipName(b, off); off < 0 {
			return
		}
		off += 4
	}
	for range int(u16(b[6:])) + int(u16(b[8:])) + int(u16(b[10:])) {
		if off = skipName(b, off); off < 0 || off+10 > len(b) {
			return
		}
		typ, rdlen := u16(b[off:]), int(u16(b[off+8:]))
		if off+10+rdlen > len(b) || !f(typ, off+8, b[off+10:off+10+rdlen]) {
			return
		}
		off += 10 + rdlen
	}
}

// skipName returns the offset just past the (possibly compressed) name at off, or -1.
func skipName(b []byte, off int) int {
	for off < len(b) {
		l := b[off]
		switch {
		case l == 0:
			return off + 1
		case l&0xC0 == 0xC0:
			return off + 2
		}
		off += 1 + int(l)
	}
	return -1
}
