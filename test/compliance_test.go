package test

// ISC's DNS compliance tester `genreport` (DNS-Compliance-Testing, the tool behind
// ednscomp.isc.org) cannot be fetched here, so TestCompliance is a port of its probes: the same
// query bytes for each test and the same verdict, computed by grProcess, a line-by-line port of
// genreport.c's process(). The source used is genreport.c of DNS-Compliance-Testing as of its
// "Copyright (C) 2016-2019" revision (the opts[] table, dotest() for what is sent, process() for
// what is checked, printandfree() for the derived "signed" result); the expectations quoted in
// the comments are ISC's "Testing EDNS Compatibility with dig" (kb.isc.org) and the
// ednscomp.isc.org summary page, which describe the same tests with dig.
//
// genreport's verdict for a test is a comma-separated list of tags: "ok" when none of the checks
// below failed, else the failure tags (e.g. "noaa,z"), followed in both cases by information
// tags for what the reply carried ("nsid", "expire", "cookie", "subnet"). A subtest passes when
// the verdict starts with "ok". Where Meridian promises more than genreport requires (it answers
// NSID, cookies and ECS), the subtest also requires the matching information tag; and a few
// RFC checks genreport does not make are added, each labelled as such.
//
// The checks genreport's process() makes on every reply of a test (recursive mode off, as when
// it tests authoritative servers), in its order; each failed one adds the tag shown:
//   - the reply's ID matches the query's (otherwise it is not this test's reply);
//   - for QUERY tests, each question is the zone name (any case) and the test's type: on UDP a
//     reply with another question is ignored (as if lost), on TCP it is "mismatch"; for the
//     opcode test, a question, answer, authority or additional record at all is
//     "non-empty-{question,answer,authority,additional}-section";
//   - TC set in a UDP reply: the test is repeated over TCP and that reply judged instead, except
//     for the tests that ignore TC (edns@512);
//   - the message parses exactly: names, record lengths, EDNS option lengths adding up to the
//     OPT RDATA, at most one OPT, nothing after the last record ("malformed", no other tag);
//     the RCODE is extended with the OPT's upper bits;
//   - the reply's opcode is the query's (tag: the opcode's name);
//   - EDNS version 0 tests: RCODE NOERROR for QUERY (for tests that send a cookie, BADCOOKIE
//     with a cookie option is accepted too), NOTIMP for other opcodes (tag: the rcode's name);
//   - EDNS version 1 tests: RCODE BADVERS;
//   - an OPT in the reply has version 0 ("version-not-zero"), and BADVERS comes exactly when
//     the reply's version is below the query's ("badversion");
//   - an OPT in the reply when the query had one ("noopt"), and none when it had none ("opt");
//   - SOA tests: the zone's SOA in the answer for a NOERROR reply to EDNS version 0 ("nosoa",
//     except tests that ignore TC) and not in any other reply ("soa");
//   - the unknown option 100 is not echoed ("echoed");
//   - DO set in the query: DO in the reply when it carries RRSIGs ("nodo"); DO+CD: CD in the
//     reply when it carries RRSIGs ("nocd"); neither can fail for an unsigned zone;
//   - AA set in a NOERROR reply to a QUERY of EDNS version 0 ("noaa"), and clear for other
//     opcodes ("aa");
//   - RA clear for other opcodes ("ra"); RA in a QUERY reply is not judged;
//   - RD copied: set only when the query had it, and never for other opcodes ("rd"), set when
//     the query had it ("nord");
//   - AD set only when the query had AD or DO, and never for other opcodes ("ad");
//   - CD set only when the query had CD, and never for other opcodes ("cd");
//   - the Z header bit clear ("z");
//   - the reply's EDNS flags other than DO clear ("mbz");
//   - tests that ignore TC: the UDP reply no larger than the advertised size ("toobig").
// No reply after three sends a second apart is "timeout" (genreport's main loop); on UDP,
// genreport only looks at datagrams of at least 12 bytes with QR set and the query's ID.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

const (
	grZone = "example.test."
	grNode = "compliance-ns1"
)

// grClientCookie is the client cookie genreport sends (01 02 03 04 05 06 07 08).
var grClientCookie = []byte{1, 2, 3, 4, 5, 6, 7, 8}

// grProbe is one row of genreport's opts[] table.
type grProbe struct {
	name    string
	dig     string       // genreport's own dig equivalent of the query
	udpsize uint16       // EDNS UDP size; 0: no OPT record
	flags   uint16       // EDNS flags (0x8000 = DO)
	version uint8        // EDNS version
	opts    []mdns.EDNS0 // EDNS options, as the raw bytes genreport sends
	tcp     bool         // sent over TCP
	cookie  bool         // the OPT carries a client cookie
	ignore  bool         // TC in the reply is not followed up over TCP
	opcode  int          // header opcode; non-zero: header only
	tc, rd  bool         // header bits set in the query: TC, RD,
	ra, z   bool         // RA, Z,
	ad, cd  bool         // AD, CD,
	aa      bool         // AA
	qtype   uint16
	want    []string // information tags Meridian must earn besides "ok" (not genreport's rule)
}

// grOpt is an EDNS option with genreport's exact bytes.
func grOpt(code uint16, data ...byte) mdns.EDNS0 {
	return &mdns.EDNS0_LOCAL{Code: code, Data: data}
}

var (
	grNSID   = grOpt(mdns.EDNS0NSID)                      // 00 03 00 00
	grECS    = grOpt(mdns.EDNS0SUBNET, 0, 1, 0, 0)        // 00 08 00 04 00 01 00 00: IPv4, source /0, scope 0
	grExpire = grOpt(mdns.EDNS0EXPIRE)                    // 00 09 00 00
	grCookie = grOpt(mdns.EDNS0COOKIE, grClientCookie...) // 00 0a 00 08 01 02 ... 08
	grOpt100 = grOpt(100)                                 // 00 64 00 00: unassigned code 100
)

// grProbes are the tests, in genreport's order. Every one asks for the zone apex with RD clear
// unless it says otherwise, and is judged by all the checks listed at the top of this file; the
// comment of each says what the test is for and which of those checks bite.
var grProbes = []grProbe{
	// dns: plain DNS, no EDNS. Expects NOERROR, the SOA in the answer, AA, and no OPT in the
	// reply (a server must not add one to a query without one: "opt").
	{name: "dns", dig: "dig +noedns +noad +norec SOA <zone>", qtype: mdns.TypeSOA},
	// aa: AA set in the query. Expects the same reply as dns (AA set because we are
	// authoritative, not because it was copied).
	{name: "aa", dig: "dig +noedns +noad +norec +aaflag SOA <zone>", aa: true, qtype: mdns.TypeSOA},
	// ad: AD set in the query (RFC 6840 §5.7: "I understand AD"). As dns; AD may be set in the
	// reply (it was asked for), but for our unsigned zone it must not be (RFC 4035 §3.1.6:
	// checked separately below, not a genreport rule).
	{name: "ad", dig: "dig +noedns +ad +norec SOA <zone>", ad: true, qtype: mdns.TypeSOA},
	// cd: CD set in the query. As dns; CD may be echoed (only a CD the query did not set fails).
	{name: "cd", dig: "dig +noedns +noad +norec +cd SOA <zone>", cd: true, qtype: mdns.TypeSOA},
	// ra: RA set in the query (meaningless in a query). As dns; genreport does not judge RA in
	// a QUERY reply (Meridian clears it: checked by TestDig).
	{name: "ra", dig: "dig +noedns +noad +norec +raflag SOA <zone>", ra: true, qtype: mdns.TypeSOA},
	// rd: RD set. As dns, and RD copied to the reply ("nord"); an authoritative-only server
	// still answers (AA, the SOA) rather than refusing.
	{name: "rd", dig: "dig +noedns +noad +rec SOA <zone>", rd: true, qtype: mdns.TypeSOA},
	// tc: TC set in the query (meaningless in a query). As dns: the query is answered normally.
	{name: "tc", dig: "dig +noedns +noad +norec +tcflag SOA <zone>", tc: true, qtype: mdns.TypeSOA},
	// zflag: the reserved Z header bit set. As dns, and Z clear in the reply ("z": RFC 1035
	// §4.1.1 "must be zero", not echoed).
	{name: "zflag", dig: "dig +noedns +noad +norec +zflag SOA <zone>", z: true, qtype: mdns.TypeSOA},
	// opcode: opcode 15 (unassigned), header only: genreport zeroes QDCOUNT and sends the 12
	// header bytes. Expects NOTIMP with opcode 15 echoed, all four sections empty (so no
	// question echo and no OPT), and AA, RA, RD, AD, CD and Z clear.
	{name: "opcode", dig: "dig +noedns +noad +norec +header-only +opcode=15", opcode: 15},
	// type666: an unknown type (RFC 3597). Expects NOERROR (NODATA here) with AA and no OPT;
	// no SOA check, as the type is not SOA.
	{name: "type666", dig: "dig +noedns +noad +norec TYPE666 <zone>", qtype: 666},
	// tcp: plain DNS over TCP (RFC 7766). As dns, over TCP.
	{name: "tcp", dig: "dig +noedns +noad +norec +tcp SOA <zone>", tcp: true, qtype: mdns.TypeSOA},
	// edns: EDNS version 0, UDP size 4096, no option, no flag (RFC 6891). Expects NOERROR, the
	// SOA, AA, an OPT of version 0 with no flag but DO ("mbz").
	{name: "edns", dig: "dig +edns=0 +nocookie +noad +norec SOA <zone>", udpsize: 4096, qtype: mdns.TypeSOA},
	// edns1: EDNS version 1 (RFC 6891 §6.1.3). Expects BADVERS (extended RCODE 16), an OPT of
	// version 0 (the highest we speak), and no SOA in the answer ("soa"); AA is not judged.
	{name: "edns1", dig: "dig +edns=1 +noednsneg +nocookie +noad +norec SOA <zone>", udpsize: 4096, version: 1, qtype: mdns.TypeSOA},
	// edns@512: DNSKEY with UDP size 512, TC not followed. Expects NOERROR (NODATA for an
	// unsigned zone) with AA and an OPT, and the UDP reply no larger than 512 bytes
	// ("toobig"). genreport's table has EDNS flags 0 here (its dig line says +dnssec).
	{name: "edns@512", dig: "dig +edns=0 +nocookie +noad +norec +dnssec +ignore +bufsize=512 DNSKEY <zone>", udpsize: 512, ignore: true, qtype: mdns.TypeDNSKEY},
	// ednsopt: the unknown option 100, empty (RFC 6891 §6.1.2: unknown options are ignored).
	// As edns, and option 100 not in the reply ("echoed").
	{name: "ednsopt", dig: "dig +edns=0 +nocookie +noad +norec +ednsopt=100 SOA <zone>", udpsize: 4096, opts: []mdns.EDNS0{grOpt100}, qtype: mdns.TypeSOA},
	// do: DO set (RFC 3225). As edns; DO must come back when the reply carries RRSIGs ("nodo"),
	// which an unsigned zone's does not. genreport also derives "signed" from this test.
	{name: "do", dig: "dig +edns=0 +nocookie +noad +norec +dnssec SOA <zone>", udpsize: 4096, flags: 0x8000, qtype: mdns.TypeSOA},
	// docd: DO and CD set. As do; CD must come back when the reply carries RRSIGs ("nocd").
	{name: "docd", dig: "dig +edns=0 +nocookie +noad +norec +dnssec +cd SOA <zone>", udpsize: 4096, flags: 0x8000, cd: true, qtype: mdns.TypeSOA},
	// ednsflags: the undefined EDNS flag 0x0080 set (RFC 6891 §6.1.4: ignored, not echoed). As
	// edns, with the reply's EDNS flags other than DO zero ("mbz").
	{name: "ednsflags", dig: "dig +edns=0 +nocookie +noad +norec +ednsflags=0x0080 SOA <zone>", udpsize: 4096, flags: 0x0080, qtype: mdns.TypeSOA},
	// optlist: NSID, ECS 0.0.0.0/0, EXPIRE and a client cookie in one OPT. As edns, except that
	// BADCOOKIE with a cookie is accepted; a cookie option whose client half is not ours
	// fails. Meridian answers NSID, ECS and cookies, so "nsid", "subnet" and "cookie" are
	// required too ("expire" only reported).
	{name: "optlist", dig: "dig +edns=0 +noad +norec +nsid +subnet=0.0.0.0/0 +expire +cookie=0102030405060708 SOA <zone>", udpsize: 4096,
		opts: []mdns.EDNS0{grNSID, grECS, grExpire, grCookie}, cookie: true, qtype: mdns.TypeSOA, want: []string{"nsid", "subnet", "cookie"}},
	// ednsnsid (genreport's name; "nsid" is its information tag): NSID alone (RFC 5001). As
	// edns; genreport tags "nsid" when a non-empty NSID comes back, which Meridian must do.
	{name: "ednsnsid", dig: "dig +edns=0 +nocookie +noad +norec +nsid SOA <zone>", udpsize: 4096, opts: []mdns.EDNS0{grNSID}, qtype: mdns.TypeSOA, want: []string{"nsid"}},
	// ednscookie ("cookie"): a client cookie alone (RFC 7873). As optlist's cookie rules; the
	// tag "cookie" means a 16-40 byte option with our client cookie came back (Meridian must).
	{name: "ednscookie", dig: "dig +edns=0 +noad +norec +cookie=0102030405060708 SOA <zone>", udpsize: 4096, opts: []mdns.EDNS0{grCookie}, cookie: true, qtype: mdns.TypeSOA, want: []string{"cookie"}},
	// ednsexpire ("expire"): EXPIRE alone (RFC 7314). As edns; "expire" is tagged when a 4-byte
	// EXPIRE comes back, which genreport does not require (and a primary need not send).
	{name: "ednsexpire", dig: "dig +edns=0 +nocookie +noad +norec +expire SOA <zone>", udpsize: 4096, opts: []mdns.EDNS0{grExpire}, qtype: mdns.TypeSOA},
	// ednssubnet ("subnet"): ECS 0.0.0.0/0 alone (RFC 7871). As edns; "subnet" is tagged when an
	// ECS option comes back, which Meridian must (it echoes ECS with scope 0).
	{name: "ednssubnet", dig: "dig +edns=0 +nocookie +noad +norec +subnet=0.0.0.0/0 SOA <zone>", udpsize: 4096, opts: []mdns.EDNS0{grECS}, qtype: mdns.TypeSOA, want: []string{"subnet"}},
	// ednstcp: DNSKEY with DO and UDP size 512 over TCP (RFC 6891 over RFC 7766: the UDP size
	// does not limit TCP). Expects NOERROR (NODATA) with AA and an OPT.
	{name: "ednstcp", dig: "dig +edns=0 +nocookie +noad +norec +dnssec +bufsize=512 +tcp DNSKEY <zone>", udpsize: 512, flags: 0x8000, tcp: true, qtype: mdns.TypeDNSKEY},
}

// grOutcome is what genreport makes of one reply.
type grOutcome struct {
	tags      []string
	ok        bool
	drop      bool // a UDP reply genreport ignores (another question): keep waiting
	toTCP     bool // TC: genreport repeats the test over TCP
	seenRRSIG bool
	nsid      []byte
	cookie    []byte // the cookie option's data, when one came back
}

func (o grOutcome) result() string { return strings.Join(o.tags, ",") }

var grOpcodes = map[int]string{0: "query", 1: "iquery", 2: "status", 4: "notify", 5: "update"}
var grRcodes = map[int]string{0: "noerror", 1: "formerr", 2: "servfail", 3: "nxdomain", 4: "notimp", 5: "refused",
	6: "yxdomain", 7: "yxrrset", 8: "nxrrset", 9: "notauth", 10: "notzone", 16: "badvers", 23: "badcookie"}

func grOpcodeText(c int) string {
	if s, ok := grOpcodes[c]; ok {
		return s
	}
	return fmt.Sprintf("opcode%d", c)
}

func grRcodeText(c int) string {
	if s, ok := grRcodes[c]; ok {
		return s
	}
	return fmt.Sprintf("rcode%d", c)
}

// grProcess is genreport's process() for a test's reply (TSIG handling left out: no test here
// sends one).
func grProcess(p grProbe, buf []byte, overTCP bool) grOutcome {
	var out grOutcome
	ok := true
	tag := func(s string) { out.tags = append(out.tags, s) }
	fail := func(s string) { tag(s); ok = false }
	malformed := func() grOutcome { tag("malformed"); out.ok = false; return out }
	if len(buf) < 12 {
		return malformed()
	}
	u16 := func(b []byte) int { return int(binary.BigEndian.Uint16(b)) }
	opcode := int(buf[2]>>3) & 0xf
	aa, tc, rd := buf[2]&0x04 != 0, buf[2]&0x02 != 0, buf[2]&0x01 != 0
	ra, z, ad, cd := buf[3]&0x80 != 0, buf[3]&0x40 != 0, buf[3]&0x20 != 0, buf[3]&0x10 != 0
	rcode := int(buf[3] & 0xf)
	qd, an, ns, ar := u16(buf[4:]), u16(buf[6:]), u16(buf[8:]), u16(buf[10:])
	off := 12

	// rr reads one record at off.
	type record struct {
		name  string
		typ   uint16
		class int
		ttl   uint32
		rdata []byte
	}
	rr := func() (record, bool) {
		var r record
		name, o, err := mdns.UnpackDomainName(buf, off)
		if err != nil || len(buf)-o < 10 {
			return r, false
		}
		r.name, r.typ, r.class = name, uint16(u16(buf[o:])), u16(buf[o+2:])
		r.ttl = binary.BigEndian.Uint32(buf[o+4:])
		rdlen := u16(buf[o+8:])
		o += 10
		if len(buf)-o < rdlen {
			return r, false
		}
		r.rdata = buf[o : o+rdlen]
		off = o + rdlen
		return r, true
	}

	if p.opcode != 0 && qd != 0 {
		fail("non-empty-question-section")
	} else {
		for range qd {
			name, o, err := mdns.UnpackDomainName(buf, off)
			if err != nil || len(buf)-o < 4 {
				return malformed()
			}
			qtype := uint16(u16(buf[o:]))
			off = o + 4
			if !strings.EqualFold(name, grZone) || qtype != p.qtype {
				if overTCP {
					tag("mismatch")
					return out
				}
				out.drop = true
				return out
			}
		}
	}
	if tc && !overTCP && !p.ignore {
		out.toTCP = true
		return out
	}

	var seenSOA, seenOpt, seenNSID, seenECS, seenExpire, seenCookie, goodCookie, seenEcho bool
	var ednsTTL uint32
	if p.opcode != 0 && an != 0 {
		fail("non-empty-answer-section")
	} else {
		for range an {
			r, good := rr()
			if !good {
				return malformed()
			}
			if r.typ == mdns.TypeSOA && strings.EqualFold(r.name, grZone) {
				seenSOA = true
			}
			if r.typ == mdns.TypeRRSIG {
				out.seenRRSIG = true
			}
		}
	}
	if p.opcode != 0 && ns != 0 {
		fail("non-empty-authority-section")
	} else {
		for range ns {
			if _, good := rr(); !good {
				return malformed()
			}
		}
	}
	if p.opcode != 0 && ar != 0 {
		fail("non-empty-additional-section")
	} else {
		for range ar {
			r, good := rr()
			if !good {
				return malformed()
			}
			if r.typ != mdns.TypeOPT {
				continue
			}
			if seenOpt {
				return malformed() // a second OPT
			}
			seenOpt, ednsTTL = true, r.ttl
			o := r.rdata
			for len(o) >= 4 {
				code, n := u16(o), u16(o[2:])
				o = o[4:]
				if len(o) < n {
					return malformed()
				}
				data := o[:n]
				switch {
				case code == 3 && n > 0:
					seenNSID, out.nsid = true, slices.Clone(data)
				case code == 8:
					seenECS = true
				case code == 9 && n == 4:
					seenExpire = true
				case code == 10 && n >= 16 && n <= 40:
					seenCookie, out.cookie = true, slices.Clone(data)
					if bytes.Equal(data[:8], grClientCookie) {
						goodCookie = true
					} else if p.cookie {
						ok = false
					}
				case code == 100:
					seenEcho = true
				}
				o = o[n:]
			}
			if len(o) != 0 {
				return malformed()
			}
		}
	}
	if off != len(buf) {
		return malformed()
	}
	rcode += int(ednsTTL&0xff000000) >> 20

	if p.opcode != opcode {
		fail(grOpcodeText(opcode))
	}
	if p.version == 0 {
		if p.opcode == 0 && rcode != 0 && (!p.cookie || rcode != mdns.RcodeBadCookie || !seenCookie) {
			fail(grRcodeText(rcode))
		}
		if p.opcode != 0 && rcode != mdns.RcodeNotImplemented {
			fail(grRcodeText(rcode))
		}
	}
	if p.version != 0 && rcode != mdns.RcodeBadVers {
		fail(grRcodeText(rcode))
	}
	ednsVers := int(ednsTTL>>16) & 0xff
	if seenOpt && ednsVers != 0 {
		fail("version-not-zero")
	}
	if seenOpt && ((ednsVers < int(p.version) && rcode != mdns.RcodeBadVers) ||
		(ednsVers >= int(p.version) && rcode == mdns.RcodeBadVers)) {
		fail("badversion")
	}
	if !seenOpt && p.udpsize != 0 {
		fail("noopt")
	}
	if seenOpt && p.udpsize == 0 {
		fail("opt")
	}
	if p.qtype == mdns.TypeSOA && p.version == 0 && !p.ignore && !seenSOA && rcode == 0 {
		fail("nosoa")
	}
	if p.qtype == mdns.TypeSOA && seenSOA && (p.version != 0 || rcode != 0) {
		fail("soa")
	}
	if seenEcho {
		fail("echoed")
	}
	do := p.flags&0x8000 != 0
	if seenOpt && do && ednsTTL&0x8000 == 0 && out.seenRRSIG {
		fail("nodo")
	}
	if seenOpt && do && p.cd && ednsTTL&0x8000 != 0 && !cd && out.seenRRSIG {
		fail("nocd")
	}
	if !aa && p.version == 0 && rcode == 0 && p.opcode == 0 {
		fail("noaa")
	}
	if aa && p.opcode != 0 {
		fail("aa")
	}
	if ra && p.opcode != 0 {
		fail("ra")
	}
	if rd && (p.opcode != 0 || !p.rd) {
		fail("rd")
	}
	if !rd && p.rd && p.opcode == 0 {
		fail("nord")
	}
	if ad && (p.opcode != 0 || (!p.ad && !do)) {
		fail("ad")
	}
	if cd && (p.opcode != 0 || !p.cd) {
		fail("cd")
	}
	if z {
		fail("z")
	}
	if ednsTTL&0x7fff != 0 {
		fail("mbz")
	}
	limit := 512
	if p.udpsize != 0 {
		limit = int(p.udpsize)
	}
	if p.ignore && len(buf) > limit {
		fail("toobig")
	}
	out.ok = ok
	if ok {
		tag("ok")
	}
	if seenNSID {
		tag("nsid")
	}
	if seenExpire {
		tag("expire")
	}
	switch {
	case seenCookie && goodCookie && p.cookie && rcode == mdns.RcodeBadCookie:
		tag("cookie+badcookie")
	case seenCookie && goodCookie && p.cookie:
		tag("cookie")
	case seenCookie && p.cookie && rcode == mdns.RcodeBadCookie:
		tag("cookie-mismatch+badcookie")
	case seenCookie && p.cookie:
		tag("cookie-mismatch")
	case seenCookie:
		tag("cookie")
	}
	if seenECS {
		tag("subnet")
	}
	return out
}

// query builds the test's query as genreport's dotest() does: res_mkquery's header and
// question, RD cleared unless the test sets it, the test's header bits, then the OPT record
// (owner ".", class = UDP size, TTL = version<<16 | flags). A non-QUERY opcode is the header
// alone, QDCOUNT 0.
func (p grProbe) query() *mdns.Msg {
	m := &mdns.Msg{MsgHdr: mdns.MsgHdr{
		Id: mdns.Id(), Opcode: p.opcode,
		Authoritative: p.aa, Truncated: p.tc, RecursionDesired: p.rd, RecursionAvailable: p.ra,
		Zero: p.z, AuthenticatedData: p.ad, CheckingDisabled: p.cd,
	}}
	if p.opcode == 0 {
		m.Question = []mdns.Question{{Name: grZone, Qtype: p.qtype, Qclass: mdns.ClassINET}}
	}
	if p.udpsize > 0 {
		m.Extra = append(m.Extra, &mdns.OPT{
			Hdr:    mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT, Class: p.udpsize, Ttl: uint32(p.version)<<16 | uint32(p.flags)},
			Option: p.opts,
		})
	}
	return m
}

var errGrTimeout = errors.New("timeout")

// grUDP sends q up to three times a second apart, as genreport's main loop does (then
// "timeout"), and returns the first reply that accept does not drop. Like genreport's
// udpread(), it reads into 4096 bytes (a larger datagram arrives cut, and so malformed) and
// ignores datagrams shorter than a header, without QR, or with another ID.
func grUDP(addr string, q []byte, accept func([]byte) bool) ([]byte, error) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	buf := make([]byte, 4096)
	for range 3 {
		if _, err := c.Write(q); err != nil {
			return nil, err
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, err := c.Read(buf)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			if err != nil {
				return nil, err
			}
			if n < 12 || buf[2]&0x80 == 0 || buf[0] != q[0] || buf[1] != q[1] {
				continue // not this test's reply
			}
			if accept(buf[:n]) {
				return slices.Clone(buf[:n]), nil
			}
		}
	}
	return nil, errGrTimeout
}

// grTCP sends q over a new TCP connection (length-prefixed, RFC 1035 §4.2.2) and reads one
// reply, as genreport's connecttoserver()/startread()/tcpread() do (their timeouts are 10 s;
// 3 s to connect and 5 s for the reply are plenty on loopback). A connection closed before the
// reply is genreport's "eof", a reset "reset".
func grTCP(addr string, q []byte) ([]byte, error) {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(q))), q...)); err != nil {
		return nil, err
	}
	var l [2]byte
	if _, err := readFull(c, l[:]); err != nil {
		return nil, fmt.Errorf("eof before the length: %w", err)
	}
	b := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := readFull(c, b); err != nil {
		return nil, fmt.Errorf("eof in the message: %w", err)
	}
	return b, nil
}

func readFull(c net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// grExchange runs one test against addr the way genreport does and returns its outcome, the
// query and the reply judged (with the transport it came over).
type grExchange struct {
	addr    string
	out     grOutcome
	query   *mdns.Msg
	wire    []byte
	reply   []byte
	overTCP bool
	err     error
}

func grRun(addr string, p grProbe) grExchange {
	x := grExchange{addr: addr, query: p.query()}
	x.wire, x.err = x.query.Pack()
	if x.err != nil {
		return x
	}
	if !p.tcp {
		x.reply, x.err = grUDP(addr, x.wire, func(b []byte) bool {
			x.out = grProcess(p, b, false)
			return !x.out.drop
		})
		if x.err != nil || !x.out.toTCP {
			return x
		}
	}
	x.overTCP = true
	x.reply, x.err = grTCP(addr, x.wire)
	if x.err == nil {
		x.out = grProcess(p, x.reply, true)
	}
	return x
}

// describe is the query and the reply, for failure messages.
func (x grExchange) describe(p grProbe) string {
	transport := "UDP"
	if x.overTCP {
		transport = "TCP"
	}
	s := fmt.Sprintf("genreport test %q (%s), over %s\nquery (%d bytes):\n%s\n", p.name, p.dig, transport, len(x.wire), x.query)
	if x.reply == nil {
		return s + "no reply: " + fmt.Sprint(x.err)
	}
	m := new(mdns.Msg)
	if err := m.Unpack(x.reply); err != nil {
		return s + fmt.Sprintf("reply (%d bytes, unparsable by miekg/dns: %v):\n%s", len(x.reply), err, hex.Dump(x.reply))
	}
	return s + fmt.Sprintf("reply (%d bytes):\n%s", len(x.reply), m)
}

func startComplianceNode(t *testing.T) *node {
	t.Helper()
	dir := t.TempDir()
	p := freePorts(t)
	path := writeConfig(t, dir, "compliance.toml.tmpl", struct {
		ports
		Node string
	}{p, grNode})
	return startNode(t, dir, p, "serve", "-c", path)
}

func TestCompliance(t *testing.T) {
	n := startComplianceNode(t)
	addrs := []string{fmt.Sprintf("127.0.0.1:%d", n.ports.DNS), fmt.Sprintf("[::1]:%d", n.ports.DNS)}
	byName := map[string]grProbe{}
	for _, p := range grProbes {
		byName[p.name] = p
	}

	for _, p := range grProbes {
		t.Run(p.name, func(t *testing.T) {
			for _, addr := range addrs {
				t.Run(addr, func(t *testing.T) {
					x := grRun(addr, p)
					if x.err != nil {
						t.Fatalf("genreport %s=%s\n%s", p.name, grErrTag(x.err), x.describe(p))
					}
					if !x.out.ok {
						t.Errorf("genreport %s=%s, want ok\n%s", p.name, x.out.result(), x.describe(p))
						return
					}
					for _, w := range p.want {
						if !slices.Contains(x.out.tags, w) {
							t.Errorf("genreport %s=%s: ok, but without %q, which Meridian supports\n%s", p.name, x.out.result(), w, x.describe(p))
						}
					}
					if slices.Contains(x.out.tags, "nsid") && string(x.out.nsid) != grNode {
						t.Errorf("NSID %q, want the node name %q\n%s", x.out.nsid, grNode, x.describe(p))
					}
					grExtra(t, p, x)
					t.Logf("%s=%s", p.name, x.out.result())
				})
			}
		})
	}

	// signed: not a test of its own but printandfree()'s summary of "do": "signed=<do's
	// result>", with ",yes" appended when the "do" reply carried an RRSIG. For an unsigned zone
	// the correct report is "signed=ok" without ",yes": do is ok and no RRSIG came back.
	t.Run("signed", func(t *testing.T) {
		p := byName["do"]
		for _, addr := range addrs {
			t.Run(addr, func(t *testing.T) {
				x := grRun(addr, p)
				if x.err != nil {
					t.Fatalf("genreport signed=%s\n%s", grErrTag(x.err), x.describe(p))
				}
				signed := x.out.result()
				if x.out.seenRRSIG {
					signed += ",yes"
				}
				if !x.out.ok || x.out.seenRRSIG {
					t.Errorf("genreport signed=%s, want ok (without \",yes\": the zone is unsigned)\n%s", signed, x.describe(p))
				}
				t.Logf("signed=%s", signed)
			})
		}
	})

	// kdig, a client no one here wrote: `+cookie` sends a random client cookie and shows the
	// COOKIE option of the reply, which must hold a server cookie (RFC 7873 §5.2: 8 to 32 bytes
	// after the 8 of the client's) and be marked good by kdig.
	t.Run("cookie/kdig", func(t *testing.T) {
		path, err := exec.LookPath("kdig")
		if err != nil {
			t.Fatal("kdig is not installed: apt-get install knot-dnsutils (bash .ci/run does it)")
		}
		for _, server := range []string{"127.0.0.1", "::1"} {
			args := []string{"@" + server, "-p", fmt.Sprint(n.ports.DNS), "+cookie", "+norecurse", "+timeout=2", "+retry=0", "www.example.test"}
			out, err := exec.Command(path, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("kdig %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			m := regexp.MustCompile(`(?m)^;; COOKIE: ([0-9A-Fa-f]+)(.*)$`).FindStringSubmatch(string(out))
			switch {
			case m == nil:
				t.Errorf("kdig %s: no COOKIE in the EDNS section\n%s", strings.Join(args, " "), out)
			case len(m[1]) < 2*(8+8) || len(m[1]) > 2*(8+32):
				t.Errorf("kdig %s: COOKIE %s is %d bytes, want a client and a server cookie (16-40)\n%s", strings.Join(args, " "), m[1], len(m[1])/2, out)
			case strings.Contains(m[2], "bad"):
				t.Errorf("kdig %s: kdig calls the cookie bad: %q\n%s", strings.Join(args, " "), m[2], out)
			case !strings.Contains(string(out), "status: NOERROR") || !strings.Contains(string(out), "192.0.2.10"):
				t.Errorf("kdig %s: want NOERROR with www's address\n%s", strings.Join(args, " "), out)
			default:
				t.Logf("kdig @%s: COOKIE %s%s", server, m[1], m[2])
			}
		}
	})
}

// grErrTag is genreport's tag for a test that got no reply to judge.
func grErrTag(err error) string {
	if errors.Is(err, errGrTimeout) {
		return "timeout"
	}
	if errors.Is(err, io.EOF) {
		return "eof"
	}
	if errors.Is(err, syscall.ECONNRESET) {
		return "reset"
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return "connection-refused"
	}
	return "failed (" + err.Error() + ")"
}

// grExtra holds the checks beyond genreport, each from the RFC it names; they run only once
// genreport's verdict is ok.
func grExtra(t *testing.T, p grProbe, x grExchange) {
	t.Helper()
	m := new(mdns.Msg)
	if err := m.Unpack(x.reply); err != nil {
		t.Errorf("miekg/dns cannot parse a reply genreport accepts: %v\n%s", err, x.describe(p))
		return
	}
	switch p.name {
	case "ad", "do", "docd":
		// RFC 4035 §3.1.6: an authoritative server sets AD only for data it considers
		// authentic, and ours is unsigned. (genreport allows AD here since AD or DO was asked.)
		if m.AuthenticatedData {
			t.Errorf("RFC 4035 §3.1.6: AD set in a reply from an unsigned zone\n%s", x.describe(p))
		}
	}
	switch p.name {
	case "cd", "docd":
		// RFC 4035 §3.1.6: "the name server side MUST copy the setting of the CD bit from a
		// query to the corresponding response" (genreport only checks it when RRSIGs came back).
		if !m.CheckingDisabled {
			t.Errorf("RFC 4035 §3.1.6: CD not copied to the reply\n%s", x.describe(p))
		}
	}
	switch p.name {
	case "do", "docd", "ednstcp":
		// RFC 3225 §3: "The DO bit of the query MUST be copied in the response" (genreport
		// only checks it when RRSIGs came back).
		if o := m.IsEdns0(); o == nil || !o.Do() {
			t.Errorf("RFC 3225 §3: DO not copied to the reply\n%s", x.describe(p))
		}
	}
	switch p.name {
	case "edns", "ednsopt", "do", "ednsflags", "ednsnsid", "ednscookie", "ednsexpire", "ednssubnet", "optlist":
		// RFC 6891 §6.2.3/§6.2.5: the reply advertises our own UDP size (edns_buffer's 1232
		// default), at least 512.
		if o := m.IsEdns0(); o == nil || o.UDPSize() != 1232 {
			t.Errorf("RFC 6891 §6.2.5: want our UDP size 1232 in the reply's OPT\n%s", x.describe(p))
		}
	}
	if p.name == "ednssubnet" || p.name == "optlist" {
		// RFC 7871 §7.2.1: the reply's ECS has the query's family, source prefix and address,
		// and a scope prefix (0: the answer does not depend on the client's address).
		var ecs *mdns.EDNS0_SUBNET
		if o := m.IsEdns0(); o != nil {
			for _, e := range o.Option {
				if s, ok := e.(*mdns.EDNS0_SUBNET); ok {
					ecs = s
				}
			}
		}
		if ecs == nil || ecs.Family != 1 || ecs.SourceNetmask != 0 || ecs.SourceScope != 0 {
			t.Errorf("RFC 7871 §7.2.1: ECS %v, want family 1, source /0, scope /0\n%s", ecs, x.describe(p))
		}
	}
	if p.name == "ednscookie" && len(x.out.cookie) >= 16 {
		// RFC 7873 §5.3: a client that sends back the server cookie it got is answered
		// normally (NOERROR, not BADCOOKIE), with the same client cookie and a valid server
		// cookie (RFC 9018: 16 bytes).
		q := p.query()
		q.Extra[0].(*mdns.OPT).Option = []mdns.EDNS0{grOpt(mdns.EDNS0COOKIE, x.out.cookie...)}
		y := grExchange{query: q}
		y.wire, _ = q.Pack()
		addr := x.addr
		y.reply, y.err = grUDP(addr, y.wire, func([]byte) bool { return true })
		if y.err != nil {
			t.Errorf("RFC 7873 §5.3: resending the server cookie: %v\n%s", y.err, y.describe(p))
			return
		}
		y.out = grProcess(p, y.reply, false)
		if !y.out.ok || !slices.Contains(y.out.tags, "cookie") || len(y.out.cookie) != 24 {
			t.Errorf("RFC 7873 §5.3: resending the server cookie got %s, want ok,cookie with a 16-byte server cookie\n%s", y.out.result(), y.describe(p))
		}
	}
	if p.name == "ednstcp" {
		// RFC 7828 §3.3.2: a client that asks with an empty edns-tcp-keepalive over TCP gets
		// the server's idle timeout in units of 100 ms (tcp_idle_timeout's 10s default: 100);
		// §3.2.1: the option is never sent over UDP.
		for _, overTCP := range []bool{true, false} {
			q := (grProbe{udpsize: 1232, qtype: mdns.TypeSOA}).query()
			q.Extra[0].(*mdns.OPT).Option = []mdns.EDNS0{&mdns.EDNS0_TCP_KEEPALIVE{Code: mdns.EDNS0TCPKEEPALIVE}}
			y := grExchange{query: q, overTCP: overTCP}
			y.wire, _ = q.Pack()
			if overTCP {
				y.reply, y.err = grTCP(x.addr, y.wire)
			} else {
				y.reply, y.err = grUDP(x.addr, y.wire, func([]byte) bool { return true })
			}
			r := new(mdns.Msg)
			if y.err == nil {
				y.err = r.Unpack(y.reply)
			}
			if y.err != nil {
				t.Errorf("RFC 7828: keepalive query: %v\n%s", y.err, y.describe(p))
				continue
			}
			var ka *mdns.EDNS0_TCP_KEEPALIVE
			if o := r.IsEdns0(); o != nil {
				for _, e := range o.Option {
					if k, ok := e.(*mdns.EDNS0_TCP_KEEPALIVE); ok {
						ka = k
					}
				}
			}
			switch {
			case r.Rcode != mdns.RcodeSuccess:
				t.Errorf("RFC 7828: keepalive query answered %s, want NOERROR\n%s", mdns.RcodeToString[r.Rcode], y.describe(p))
			case overTCP && (ka == nil || ka.Timeout != 100):
				t.Errorf("RFC 7828 §3.3.2: keepalive %v over TCP, want a timeout of 100 (10s)\n%s", ka, y.describe(p))
			case !overTCP && ka != nil:
				t.Errorf("RFC 7828 §3.2.1: keepalive %v sent over UDP\n%s", ka, y.describe(p))
			}
		}
	}
}

// TestComplianceVerdicts feeds grProcess replies that break one genreport rule each, so the
// port is shown to fail where genreport does (a port that said "ok" to everything would pass
// TestCompliance against any server).
func TestComplianceVerdicts(t *testing.T) {
	byName := map[string]grProbe{}
	for _, p := range grProbes {
		byName[p.name] = p
	}
	soa, err := mdns.NewRR("example.test. 3600 IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 604800 60")
	if err != nil {
		t.Fatal(err)
	}
	// good is the reply a compliant authoritative server gives to q.
	good := func(p grProbe, q *mdns.Msg) *mdns.Msg {
		m := new(mdns.Msg).SetReply(q)
		m.Authoritative = p.opcode == 0
		switch {
		case p.opcode != 0:
			m.Rcode = mdns.RcodeNotImplemented
			m.Question = nil
		case p.version != 0:
			m.Rcode = mdns.RcodeBadVers
		case p.qtype == mdns.TypeSOA:
			m.Answer = []mdns.RR{soa}
		}
		if qo := q.IsEdns0(); qo != nil {
			o := &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}}
			o.SetUDPSize(1232)
			o.SetDo(qo.Do())
			m.Extra = append(m.Extra, o)
		}
		return m
	}
	opt := func(m *mdns.Msg) *mdns.OPT { return m.IsEdns0() }
	tests := []struct {
		probe  string
		mutate func(m *mdns.Msg)
		raw    func(b []byte) []byte
		tcp    bool
		want   string // the verdict genreport gives
	}{
		{probe: "dns", want: "ok"},
		{probe: "dns", mutate: func(m *mdns.Msg) { m.Zero = true }, want: "z"},
		{probe: "dns", mutate: func(m *mdns.Msg) { m.Authoritative = false }, want: "noaa"},
		{probe: "dns", mutate: func(m *mdns.Msg) { m.SetEdns0(1232, false) }, want: "opt"},
		{probe: "dns", mutate: func(m *mdns.Msg) { m.Answer = nil }, want: "nosoa"},
		{probe: "dns", mutate: func(m *mdns.Msg) { m.Rcode = mdns.RcodeRefused; m.Answer = nil; m.Authoritative = false }, want: "refused"},
		{probe: "dns", mutate: func(m *mdns.Msg) { m.RecursionDesired = true }, want: "rd"},
		{probe: "dns", mutate: func(m *mdns.Msg) { m.AuthenticatedData = true }, want: "ad"},
		{probe: "dns", mutate: func(m *mdns.Msg) { m.CheckingDisabled = true }, want: "cd"},
		{probe: "dns", raw: func(b []byte) []byte { return append(b, 0) }, want: "malformed"},
		{probe: "dns", mutate: func(m *mdns.Msg) { m.Truncated = true; m.Answer = nil }, want: "totcp"},
		{probe: "dns", mutate: func(m *mdns.Msg) { m.Question[0].Name = "other.test." }, want: "drop"},
		{probe: "tcp", mutate: func(m *mdns.Msg) { m.Question[0].Name = "other.test." }, tcp: true, want: "mismatch"},
		{probe: "rd", mutate: func(m *mdns.Msg) { m.RecursionDesired = false }, want: "nord"},
		{probe: "ad", mutate: func(m *mdns.Msg) { m.AuthenticatedData = true }, want: "ok"},  // allowed by genreport
		{probe: "ra", mutate: func(m *mdns.Msg) { m.RecursionAvailable = true }, want: "ok"}, // not judged
		{probe: "opcode", want: "ok"},
		{probe: "opcode", mutate: func(m *mdns.Msg) { m.Rcode = mdns.RcodeFormatError }, want: "formerr"},
		{probe: "opcode", mutate: func(m *mdns.Msg) { m.Opcode = 0 }, want: "query"},
		{probe: "opcode", mutate: func(m *mdns.Msg) { m.Authoritative = true }, want: "aa"},
		{probe: "opcode", mutate: func(m *mdns.Msg) {
			m.Question = []mdns.Question{{Name: grZone, Qtype: mdns.TypeSOA, Qclass: mdns.ClassINET}}
		}, want: "non-empty-question-section,malformed"},
		{probe: "edns", want: "ok"},
		{probe: "edns", mutate: func(m *mdns.Msg) { m.Extra = nil }, want: "noopt"},
		{probe: "edns", mutate: func(m *mdns.Msg) { opt(m).SetVersion(1) }, want: "version-not-zero"},
		{probe: "edns", mutate: func(m *mdns.Msg) { m.Extra = append(m.Extra, m.Extra[0]) }, want: "malformed"},
		{probe: "edns1", want: "ok"},
		{probe: "edns1", mutate: func(m *mdns.Msg) { m.Rcode = mdns.RcodeSuccess; m.Answer = []mdns.RR{soa} }, want: "noerror,badversion,soa"},
		{probe: "edns1", mutate: func(m *mdns.Msg) { m.Rcode = mdns.RcodeFormatError }, want: "formerr,badversion"},
		{probe: "ednsopt", mutate: func(m *mdns.Msg) { opt(m).Option = []mdns.EDNS0{grOpt100} }, want: "echoed"},
		{probe: "ednsflags", mutate: func(m *mdns.Msg) { opt(m).Hdr.Ttl |= 0x0080 }, want: "mbz"},
		{probe: "edns@512", mutate: func(m *mdns.Msg) {
			m.Ns = []mdns.RR{soa}
			for i := range 10 {
				txt, _ := mdns.NewRR(fmt.Sprintf("example.test. 60 IN TXT %q", strings.Repeat("x", 60+i)))
				m.Ns = append(m.Ns, txt)
			}
		}, want: "toobig"},
		{probe: "ednscookie", mutate: func(m *mdns.Msg) {
			opt(m).Option = []mdns.EDNS0{grOpt(mdns.EDNS0COOKIE, append(slices.Clone(grClientCookie), make([]byte, 16)...)...)}
		}, want: "ok,cookie"},
		{probe: "ednscookie", mutate: func(m *mdns.Msg) {
			opt(m).Option = []mdns.EDNS0{grOpt(mdns.EDNS0COOKIE, make([]byte, 24)...)}
		}, want: "cookie-mismatch"},
		{probe: "ednscookie", mutate: func(m *mdns.Msg) {
			m.Rcode, m.Answer = mdns.RcodeBadCookie, nil
			opt(m).Option = []mdns.EDNS0{grOpt(mdns.EDNS0COOKIE, append(slices.Clone(grClientCookie), make([]byte, 16)...)...)}
		}, want: "ok,cookie+badcookie"},
		{probe: "ednsnsid", mutate: func(m *mdns.Msg) { opt(m).Option = []mdns.EDNS0{grOpt(mdns.EDNS0NSID, 'n')} }, want: "ok,nsid"},
		{probe: "do", mutate: func(m *mdns.Msg) {
			sig, _ := mdns.NewRR("example.test. 3600 IN RRSIG SOA 13 2 3600 20300101000000 20200101000000 1 example.test. AAAA")
			m.Answer = append(m.Answer, sig)
			opt(m).SetDo(false)
		}, want: "nodo"},
	}
	for _, tc := range tests {
		p := byName[tc.probe]
		q := p.query()
		m := good(p, q)
		if tc.mutate != nil {
			tc.mutate(m)
		}
		b, err := m.Pack()
		if err != nil {
			t.Fatalf("%s: pack: %v", tc.probe, err)
		}
		if tc.raw != nil {
			b = tc.raw(b)
		}
		out := grProcess(p, b, tc.tcp)
		got := out.result()
		switch {
		case out.drop:
			got = "drop"
		case out.toTCP:
			got = "totcp"
		}
		if got != tc.want || got == out.result() && out.ok != strings.HasPrefix(got, "ok") {
			t.Errorf("%s: verdict %q, want %q\nreply:\n%s", tc.probe, got, tc.want, m)
		}
	}
}
