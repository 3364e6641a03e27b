package dns

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"net/netip"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns/rrl"
)

// Response rate limiting ([server.rrl], dns/rrl): every UDP reply about to go out is charged
// to its client network and its token (the name and type; NXDOMAIN to the zone; errors to the
// network). Over the rate, a reply is dropped, every slip-th one sent truncated instead (empty,
// TC: a real client comes back over TCP), and a client that showed a valid server cookie is
// never limited (it cannot be a spoofed source), as Knot does; one that sent a client cookie
// without a valid server cookie gets BADCOOKIE with a fresh cookie instead (RFC 7873 §5.2.3).
// TCP is never limited.

// newRRL builds the limiter of c; nil when it is off.
func newRRL(c config.RRL) (*rrl.Limiter, error) {
	if c.ResponsesPerSecond == 0 {
		return nil, nil
	}
	return rrl.New(rrl.Options{ResponsesPerSecond: c.ResponsesPerSecond, Window: c.Window, Slip: c.Slip,
		IPv4Prefix: c.IPv4Prefix, IPv6Prefix: c.IPv6Prefix, Exempt: c.Exempt, LogOnly: c.LogOnly, TableSize: c.TableSize})
}

// rcodeBadCookie is BADCOOKIE (RFC 7873 §8): 23, an extended rcode (low 4 bits in the header,
// the rest in the OPT record's TTL).
const rcodeBadCookie = 23

// rateLimit returns what to send instead of resp, a UDP reply to src, under the rate limit:
// resp itself, a truncated or BADCOOKIE reply made from it, or nil to drop it.
func (h *Handler) rateLimit(s *snapshot, resp []byte, src netip.Addr, ck *cookieState) []byte {
	if s.rrl == nil || ck.good || len(resp) < headerLen {
		return resp
	}
	kind, name, qtype := rrl.Error, []byte(nil), uint16(0)
	qEnd := headerLen
	if u16(resp[4:]) == 1 {
		if qEnd = skipName(resp, headerLen); qEnd < 0 || qEnd+4 > len(resp) {
			return resp
		}
		name, qtype = resp[headerLen:qEnd], u16(resp[qEnd:])
		qEnd += 4
	}
	switch resp[3] & 0x0f {
	case 0:
		if name != nil {
			kind = rrl.Answer
		}
	case 3: // NXDOMAIN: random names under one zone share its bucket
		kind, name = rrl.NXDomain, s.zoneToken(name)
	}
	act := s.rrl.Decide(src, kind, name, qtype)
	if act == rrl.Send {
		return resp
	}
	if ck.present {
		h.metrics.limited.WithLabelValues("badcookie").Inc()
		return bare(resp, qEnd, rcodeBadCookie)
	}
	if act == rrl.Drop || kind == rrl.Error {
		if act == rrl.Drop {
			h.metrics.limited.WithLabelValues("dropped").Inc()
			return nil
		}
		h.metrics.limited.WithLabelValues("slipped").Inc()
		return resp // an error is sent as it is (it has nothing to truncate)
	}
	h.metrics.limited.WithLabelValues("slipped").Inc()
	r := bare(resp, qEnd, int(resp[3]&0x0f))
	r[2] |= 0x02 // TC
	return r
}

// bare rewrites resp in place as its header, question and OPT record alone, with rcode.
func bare(resp []byte, qEnd, rcode int) []byte {
	rdlenOff, optEnd, hasOPT := findOPT(resp)
	out := resp[:qEnd]
	out[3] = out[3]&0xf0 | byte(rcode&0x0f)
	out[6], out[7], out[8], out[9], out[10], out[11] = 0, 0, 0, 0, 0, 0
	if hasOPT {
		opt := resp[rdlenOff-9 : optEnd]            // root name, type, class, TTL, rdlength, rdata
		out = append(out, opt...)                   // moves left: copy handles the overlap
		out[len(out)-len(opt)+5] = byte(rcode >> 4) // the OPT TTL's extended-rcode byte
		out[11] = 1
	}
	return out
}

// zoneToken is the NXDOMAIN token of name (a wire-form question name): its zone's origin.
func (s *snapshot) zoneToken(name []byte) []byte {
	var b strings.Builder
	for off := 0; off < len(name) && name[off] != 0; off += 1 + int(name[off]) {
		l := int(name[off])
		if off+1+l > len(name) {
			break
		}
		b.Write(name[off+1 : off+1+l])
		b.WriteByte('.')
	}
	text := strings.ToLower(b.String())
	if text == "" {
		text = "."
	}
	if z := s.zones.Find(text); z != nil {
		return []byte(z.Origin)
	}
	return nil
}

// limitedOpts is meridian_dns_rate_limited_total{action}.
var limitedOpts = prometheus.CounterOpts{
	Namespace: "meridian", Subsystem: "dns", Name: "rate_limited_total",
	Help: "UDP replies response rate limiting held back, by what was sent instead: dropped (nothing), slipped (truncated), badcookie (BADCOOKIE with a fresh cookie).",
}
