package dns

import (
	"encoding/hex"
	"net"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dns/dnssec"
)

// edns checks the query's OPT record (RFC 6891) and puts ours on resp: our UDP size, the
// client's DO bit, NSID when asked (RFC 5001), ECS echoed with scope 0 (RFC 7871 §7.2.1:
// static answers do not depend on the client's subnet), and over TCP our idle timeout when the
// client asks with edns-tcp-keepalive (RFC 7828; never over UDP). It returns the query's OPT
// and a non-success rcode when the query must be refused as malformed or of an unknown version.
func (s *snapshot) edns(m, resp *dns.Msg, proto Proto, src netip.Addr, ck *cookieState) (*dns.OPT, int) {
	var opt *dns.OPT
	n := 0
	for _, rr := range m.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			opt = o
			n++
		}
	}
	if opt == nil {
		return nil, dns.RcodeSuccess
	}
	ours := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	ours.SetUDPSize(s.ednsMax)
	ours.SetDo(opt.Do())
	if opt.Do() && opt.Hdr.Ttl&dnssec.FlagCO != 0 {
		ours.Hdr.Ttl |= dnssec.FlagCO // we give compact answers NXDOMAIN when allowed (RFC 9824 §4)
	}
	resp.Extra = append(resp.Extra, ours)
	switch {
	case n > 1 || opt.Hdr.Name != ".":
		return opt, dns.RcodeFormatError
	case opt.Version() != 0:
		return opt, dns.RcodeBadVers // our OPT says version 0, the highest we speak
	}
	var cookieOpt []byte
	for _, o := range opt.Option {
		switch v := o.(type) {
		case *dns.EDNS0_COOKIE:
			b, err := hex.DecodeString(v.Cookie)
			if err != nil || cookieOpt != nil {
				return opt, dns.RcodeFormatError
			}
			cookieOpt = b
		case *dns.EDNS0_NSID:
			ours.Option = append(ours.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: s.nsid})
		case *dns.EDNS0_TCP_KEEPALIVE:
			if v.Timeout != 0 {
				return opt, dns.RcodeFormatError // a client sends it empty (RFC 7828 §3.2.1)
			}
			if proto == TCP && s.keepalive != nil {
				units := min(s.keepalive.Load()/int64(100*time.Millisecond), 65535)
				ours.Option = append(ours.Option, &dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE, Timeout: uint16(units)})
			}
		case *dns.EDNS0_SUBNET:
			if !validECS(v) {
				return opt, dns.RcodeFormatError
			}
			ours.Option = append(ours.Option, &dns.EDNS0_SUBNET{
				Code: dns.EDNS0SUBNET, Family: v.Family, SourceNetmask: v.SourceNetmask, SourceScope: 0, Address: v.Address,
			})
		}
	}
	if cookieOpt != nil {
		var malformed bool
		if *ck, malformed = s.cookies.check(cookieOpt, src); malformed {
			return opt, dns.RcodeFormatError
		}
		if ck.present { // last, so the cache can leave it out (slow)
			b := s.cookies.appendOption(nil, ck, src)
			ours.Option = append(ours.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hex.EncodeToString(b[4:])})
		}
	}
	return opt, dns.RcodeSuccess
}

// validECS applies RFC 7871 §6: a known family, a source prefix that fits it, scope 0 in
// queries, and no address bits set beyond the source prefix.
func validECS(e *dns.EDNS0_SUBNET) bool {
	bits := 0
	switch e.Family {
	case 0:
		return e.SourceNetmask == 0 && e.SourceScope == 0
	case 1:
		bits = 32
	case 2:
		bits = 128
	default:
		return false
	}
	if int(e.SourceNetmask) > bits || e.SourceScope != 0 {
		return false
	}
	ip := e.Address
	if bits == 32 {
		ip = ip.To4()
	}
	if ip == nil {
		return false
	}
	return ip.Equal(ip.Mask(net.CIDRMask(int(e.SourceNetmask), bits)))
}

// SubnetOption is the EDNS Client Subnet option (RFC 7871) a resolver sends for a client in p:
// the family, p's length as the source prefix, scope 0 and the masked address. `explain`
// builds its queries with it, and so do tests.
func SubnetOption(p netip.Prefix) *dns.EDNS0_SUBNET {
	p = p.Masked()
	family := uint16(1)
	if p.Addr().Is6() {
		family = 2
	}
	return &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: family, SourceNetmask: uint8(p.Bits()), Address: p.Addr().AsSlice()}
}

// clientSubnet is the query's ECS option as a prefix (already checked by validECS).
func clientSubnet(opt *dns.OPT) ecsInfo {
	if opt == nil {
		return ecsInfo{}
	}
	for _, o := range opt.Option {
		e, ok := o.(*dns.EDNS0_SUBNET)
		if !ok {
			continue
		}
		var a netip.Addr
		switch e.Family {
		case 1:
			a, ok = netip.AddrFromSlice(e.Address.To4())
		case 2:
			a, ok = netip.AddrFromSlice(e.Address.To16())
		default:
			return ecsInfo{}
		}
		if !ok {
			return ecsInfo{}
		}
		p, err := a.Prefix(int(e.SourceNetmask))
		return ecsInfo{prefix: p, ok: err == nil && e.SourceNetmask > 0}
	}
	return ecsInfo{}
}

// setScope sets the scope prefix length of the ECS option echoed in resp, if any.
func setScope(resp *dns.Msg, bits uint8) {
	opt := resp.IsEdns0()
	if opt == nil {
		return
	}
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_SUBNET); ok {
			e.SourceScope = bits
		}
	}
}

func udpSize(m *dns.Msg) uint16 {
	if opt := m.IsEdns0(); opt != nil {
		return opt.UDPSize()
	}
	return 0
}

// truncate makes m fit limit bytes and reports whether TC was set. Additional records are
// optional, so they go first without TC — except a referral's glue, which resolvers need
// (RFC 9471). Past that the reply is TC with no answer and no authority at all (only the
// question and our OPT), as gdnsd does: a resolver must never cache part of an RRset, and
// comes back over TCP for the whole of it.
func truncate(m *dns.Msg, limit int) bool {
	m.Compress = true
	if m.Len() <= limit {
		return false
	}
	referral := !m.Authoritative && len(m.Answer) == 0 && len(m.Ns) > 0
	if !referral {
		full := m.Extra
		var kept []dns.RR
		for _, rr := range full {
			if rr.Header().Rrtype == dns.TypeOPT {
				kept = append(kept, rr)
			}
		}
		m.Extra = kept
		if m.Len() <= limit {
			return false
		}
	}
	m.Answer, m.Ns = nil, nil
	var opt []dns.RR
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			opt = append(opt, rr)
		}
	}
	m.Extra = opt
	m.Truncated = true
	return true
}
