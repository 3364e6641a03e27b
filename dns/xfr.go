package dns

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Zone transfers out (RFC 5936 AXFR; RFC 1995 IXFR, answered with the whole zone or, when the
// secondary is current, its SOA alone), over TCP only; UDP asks are REFUSED by the query path.

// xfrMaxMessage bounds the records of one transfer message by their uncompressed size, so it
// fits the 64 KiB TCP frame whatever compression gives.
const xfrMaxMessage = 60000

// isTransfer says whether the raw query asks for AXFR or IXFR: QR clear, opcode QUERY, one
// question. The rest is checked once it is parsed.
func isTransfer(req []byte) bool {
	if len(req) < headerLen+5 || u16(req[2:])&(flagQR|flagOpcode) != 0 || u16(req[4:]) != 1 {
		return false
	}
	end := skipName(req, headerLen)
	if end < 0 || end+4 > len(req) {
		return false
	}
	t := u16(req[end:])
	return t == dns.TypeAXFR || t == dns.TypeIXFR
}

// xfrReply is one transfer request being answered on one connection.
type xfrReply struct {
	h     *Handler
	c     net.Conn
	req   *dns.Msg
	key   *tsigKey // the key the request was signed with and verified by; nil: unsigned
	mac   string   // the MAC the next reply message chains from
	first bool     // no reply message written yet
}

// serveTransfer answers an AXFR or IXFR on c. It returns false when the connection must close
// (a write failed, or the query does not parse).
func (h *Handler) serveTransfer(c net.Conn, req []byte, src netip.AddrPort) bool {
	start := time.Now()
	s := h.snap.Load()
	var m dns.Msg
	if err := m.Unpack(req); err != nil || len(m.Question) != 1 {
		h.log.Debug("malformed transfer request", "client", src, "err", err)
		h.xfr.count("none", "other", "formerr")
		_, _ = c.Write(frame(formErr(make([]byte, headerLen), req)))
		return false
	}
	q := m.Question[0]
	origin, kind := strings.ToLower(q.Name), dns.TypeToString[q.Qtype] // the qtype label, as meridian_dns_queries_total has it
	x := s.transfers[origin]
	label := "none"
	if z := s.zones.Find(origin); z != nil && z.Origin == origin {
		label = origin
	}
	r := &xfrReply{h: h, c: c, req: &m, first: true}
	log := h.log.With("zone", origin, "qtype", kind, "client", src)

	if t := m.IsTsig(); t != nil {
		var tsigErr int
		if r.key, tsigErr = s.verifyTSIG(req, t); r.key != nil {
			r.mac = t.MAC
		}
		if tsigErr != dns.RcodeSuccess {
			log.Info("zone transfer refused: bad TSIG", "key", t.Hdr.Name, "tsig_error", dns.RcodeToString[tsigErr])
			h.xfr.count(label, kind, "notauth")
			return r.fail(dns.RcodeNotAuth, tsigErr, t)
		}
	}
	reason := ""
	switch {
	case q.Qclass != dns.ClassINET:
		reason = "class " + dns.ClassToString[q.Qclass]
	case label == "none":
		log.Info("zone transfer refused: not a zone served here")
		h.xfr.count(label, kind, "notauth")
		return r.fail(dns.RcodeNotAuth, dns.RcodeSuccess, nil)
	case x == nil:
		reason = "the zone has no [transfer] table"
	case !slices.ContainsFunc(x.allow, func(p netip.Prefix) bool { return p.Contains(src.Addr().Unmap()) }):
		reason = "source not in allow"
	case x.key != nil && r.key == nil:
		reason = "not signed with the zone's tsig_key"
	case x.key != nil && r.key != x.key:
		reason = "signed with another key than the zone's tsig_key"
	}
	if reason != "" {
		log.Info("zone transfer refused", "reason", reason)
		h.xfr.count(label, kind, "refused")
		return r.fail(dns.RcodeRefused, dns.RcodeSuccess, nil)
	}

	if q.Qtype == dns.TypeIXFR && len(m.Ns) > 0 {
		if theirs, ok := m.Ns[0].(*dns.SOA); ok && !serialAfter(x.soa.Serial, theirs.Serial) {
			// Current (or later): our SOA alone says so (RFC 1995 §4).
			if err := r.send([]dns.RR{x.soa}); err != nil {
				h.xfr.count(label, kind, "failed")
				return false
			}
			log.Debug("zone transfer: secondary is current", "serial", x.soa.Serial)
			h.xfr.count(label, kind, "current")
			return true
		}
	}
	n, err := r.stream(x)
	if err != nil {
		log.Warn("zone transfer failed", "serial", x.soa.Serial, "records", n, "err", err)
		h.xfr.count(label, kind, "failed")
		return false
	}
	keyName := ""
	if r.key != nil {
		keyName = r.key.name
	}
	log.Info("zone transferred", "serial", x.soa.Serial, "records", n, "key", keyName, "duration", time.Since(start))
	h.xfr.count(label, kind, "ok")
	return true
}

// fail writes the error reply rcode (with tsigErr in a TSIG record when the request's
// signature failed) and returns whether the connection may carry on.
func (r *xfrReply) fail(rcode, tsigErr int, t *dns.TSIG) bool {
	resp := new(dns.Msg).SetRcode(r.req, rcode)
	var wire []byte
	var err error
	if tsigErr != dns.RcodeSuccess {
		wire, err = tsigError(resp, t, r.key, tsigErr)
	} else {
		wire, err = r.pack(resp)
	}
	if err != nil {
		r.h.log.Error("pack transfer error reply", "err", err)
		return false
	}
	return r.write(wire) == nil
}

// stream writes the zone: its SOA, every record, its SOA again (RFC 5936 §2.2), in as few
// messages as fit. It returns how many records it sent.
func (r *xfrReply) stream(x *xfrZone) (int, error) {
	all := make([]dns.RR, 0, len(x.rrs)+2)
	all = append(append(append(all, x.soa), x.rrs...), x.soa)
	for len(all) > 0 {
		n, size := 0, 0
		for n < len(all) && (n == 0 || size+dns.Len(all[n]) <= xfrMaxMessage) {
			size += dns.Len(all[n])
			n++
		}
		if err := r.send(all[:n]); err != nil {
			return 0, err
		}
		all = all[n:]
	}
	return len(x.rrs) + 2, nil
}

// send writes one reply message holding rrs.
func (r *xfrReply) send(rrs []dns.RR) error {
	resp := new(dns.Msg)
	resp.SetReply(r.req)
	resp.Authoritative = true
	resp.Compress = true
	resp.Answer = rrs
	wire, err := r.pack(resp)
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	return r.write(wire)
}

// pack packs resp, signed when the request was: the first message with the request's MAC, the
// next ones chained to the previous message's MAC with the timers only (RFC 8945 §5.3.1).
func (r *xfrReply) pack(resp *dns.Msg) ([]byte, error) {
	if r.key == nil {
		return resp.Pack()
	}
	resp.SetTsig(r.key.name, r.key.alg, tsigFudge, time.Now().Unix())
	wire, mac, err := dns.TsigGenerate(resp, r.key.secret, r.mac, !r.first)
	if err != nil {
		return nil, err
	}
	r.mac = mac
	return wire, nil
}

func (r *xfrReply) write(wire []byte) error {
	r.first = false
	_ = r.c.SetWriteDeadline(time.Now().Add(time.Duration(r.h.tcpIdle.Load())))
	_, err := r.c.Write(frame(wire))
	return err
}

// frame prefixes a message with its length for TCP.
func frame(wire []byte) []byte {
	out := make([]byte, 2, 2+len(wire))
	binary.BigEndian.PutUint16(out, uint16(len(wire)))
	return append(out, wire...)
}
