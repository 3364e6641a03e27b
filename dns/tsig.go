package dns

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Transaction signatures (RFC 8945) with the [tsig] keys: transfers must be signed with their
// zone's key (xfr.go), NOTIFYs are (notify.go), and any other query signed with a known key
// gets a signed reply, as a secondary's SOA queries expect.

// tsigFudge is the clock skew our signatures allow (RFC 8945 §10 recommends 300 s).
const tsigFudge = 300

// verifyTSIG checks a request's signature t (RFC 8945 §5.2). It returns the key when the MAC
// is good, so the reply is signed with it (a BADTIME one too, §5.2.3), and the TSIG error for
// the reply, or success.
func (s *snapshot) verifyTSIG(req []byte, t *dns.TSIG) (*tsigKey, int) {
	k := s.tsig[strings.ToLower(t.Hdr.Name)]
	if k == nil || dns.CanonicalName(t.Algorithm) != k.alg {
		return nil, dns.RcodeBadKey
	}
	switch err := dns.TsigVerify(req, k.secret, "", false); {
	case errors.Is(err, dns.ErrTime):
		return k, dns.RcodeBadTime
	case err != nil:
		return nil, dns.RcodeBadSig
	}
	return k, dns.RcodeSuccess
}

// tsigError packs resp, a NOTAUTH reply to a request whose signature t failed with tsigErr: for
// a bad key or MAC unsigned, with an empty MAC (§5.3.2); for a bad time signed with k, the
// request's time signed and ours in Other Data (§5.2.3).
func tsigError(resp *dns.Msg, t *dns.TSIG, k *tsigKey, tsigErr int) ([]byte, error) {
	resp.Rcode = dns.RcodeNotAuth
	if tsigErr != dns.RcodeBadTime || k == nil {
		resp.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, int64(t.TimeSigned))
		resp.Extra[len(resp.Extra)-1].(*dns.TSIG).Error = uint16(tsigErr)
		wire, _, err := dns.TsigGenerate(resp, "", "", false)
		return wire, err
	}
	resp.SetTsig(k.name, k.alg, tsigFudge, int64(t.TimeSigned))
	rr := resp.Extra[len(resp.Extra)-1].(*dns.TSIG)
	rr.Error = uint16(tsigErr)
	var now [8]byte
	binary.BigEndian.PutUint64(now[:], uint64(time.Now().Unix()))
	rr.OtherLen, rr.OtherData = 6, hex.EncodeToString(now[2:]) // 48-bit seconds
	wire, _, err := dns.TsigGenerate(resp, k.secret, t.MAC, false)
	return wire, err
}

// signed answers a query signed with a TSIG key: verified, answered as any query, and the
// reply signed with the same key; NOTAUTH when the signature fails. Such replies are never
// prepared for the fast path: each carries its own MAC.
func (h *Handler) signed(s *snapshot, m *dns.Msg, req []byte, proto Proto, src netip.AddrPort, start time.Time, tr *trace) []byte {
	t := m.IsTsig()
	k, tsigErr := s.verifyTSIG(req, t)
	var resp *dns.Msg
	var oc outcome
	if tsigErr != dns.RcodeSuccess {
		h.log.Debug("bad TSIG", "client", src, "key", t.Hdr.Name, "tsig_error", dns.RcodeToString[tsigErr])
		resp, oc = new(dns.Msg).SetRcode(m, dns.RcodeNotAuth), outcome{zone: "none"}
		if len(m.Question) == 1 {
			oc.qtype = m.Question[0].Qtype
		}
	} else {
		resp, oc = s.build(m, proto, src.Addr(), tr)
		if proto == UDP {
			limit := replyLimit(proto, m.IsEdns0() != nil, udpSize(m), s.ednsMax)
			truncate(resp, limit-(dns.Len(t)+len(k.name)+2)) // room for our TSIG
		}
	}
	resp.Compress = true
	var wire []byte
	var err error
	if tsigErr != dns.RcodeSuccess {
		wire, err = tsigError(resp, t, k, tsigErr)
	} else {
		resp.SetTsig(k.name, k.alg, tsigFudge, time.Now().Unix())
		wire, _, err = dns.TsigGenerate(resp, k.secret, t.MAC, false)
	}
	if err != nil {
		h.log.Error("sign reply", "client", src, "err", err)
		return nil
	}
	h.count(oc, resp.Rcode, proto, start)
	return h.limitUDP(s, wire, proto, src.Addr(), &oc.cookie)
}
