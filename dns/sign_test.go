package dns

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns/dnssec"
)

// signedGSLB is the GSLB fixture with gslb.test signed by a fresh CSK, plus any extra TOML.
func signedGSLB(t testing.TB, extra ...string) (*Handler, *mdns.DNSKEY) {
	t.Helper()
	path := writeGSLB(t)
	base, key, err := dnssec.Generate(t.TempDir(), "gslb.test", mdns.ECDSAP256SHA256, dnssec.FlagsKSK, 3600)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "\n[zones.\"gslb.test\".dnssec]\nkeys = [%q]\n", base)
	for _, x := range extra {
		fmt.Fprintln(f, x)
	}
	f.Close()
	return newGSLBHandler(t, path), key
}

// TestSignedServiceAnswers: with DO, the fast path's signed load-balanced answers are the slow
// path's bytes, and every RRSIG in them verifies with the zone's key.
func TestSignedServiceAnswers(t *testing.T) {
	h, key := signedGSLB(t)
	src := netip.MustParseAddrPort("127.0.0.1:5300")
	signed := 0
	for _, q := range serviceQueries(t) {
		var pq query
		if !parseFast(q, &pq) {
			t.Fatalf("query %x is not fast-path shaped", q)
		}
		s := h.snap.Load()
		fs := s.fastServices[string(pq.question())]
		fast := s.respondService(fs, make([]byte, 4096), q, &pq, &cookieState{}, UDP, src.Addr())
		slow := h.slow(s, make([]byte, 65535), q, UDP, src, time.Now())
		if fast == nil {
			continue // NODATA and the like: the slow path's
		}
		if !bytes.Equal(fast, slow) {
			var fm, sm mdns.Msg
			_, _ = fm.Unpack(fast), sm.Unpack(slow)
			t.Errorf("fast and slow replies differ\nfast:\n%v\nslow:\n%v", &fm, &sm)
			continue
		}
		var m mdns.Msg
		if err := m.Unpack(fast); err != nil {
			t.Fatal(err)
		}
		signed += verifyAll(t, key, m.Answer)
		if pq.edns == ednsDO1 && len(m.Answer) > 0 && countType(m.Answer, mdns.TypeRRSIG) == 0 {
			t.Errorf("DO query answered without an RRSIG:\n%v", &m)
		}
		if pq.edns != ednsDO1 && countType(m.Answer, mdns.TypeRRSIG) > 0 {
			t.Errorf("RRSIG without DO:\n%v", &m)
		}
	}
	if signed == 0 {
		t.Fatal("no signed answer checked")
	}
}

// TestSignedDenials: a missing name and a NODATA are proven by one compact-denial NSEC each,
// signed; with CO the missing name is NXDOMAIN.
func TestSignedDenials(t *testing.T) {
	h, key := signedGSLB(t)
	src := netip.MustParseAddrPort("127.0.0.1:5300")
	for _, tc := range []struct {
		name  string
		qtype uint16
		co    bool
		rcode int
		nxn   bool
	}{
		{"nope.gslb.test.", mdns.TypeA, false, mdns.RcodeSuccess, true},
		{"nope.gslb.test.", mdns.TypeA, true, mdns.RcodeNameError, true},
		{"ns1.gslb.test.", mdns.TypeMX, false, mdns.RcodeSuccess, false},
	} {
		m := new(mdns.Msg)
		m.SetQuestion(tc.name, tc.qtype)
		m.SetEdns0(1232, true)
		if tc.co {
			m.IsEdns0().Hdr.Ttl |= dnssec.FlagCO
		}
		wire, _ := m.Pack()
		var r mdns.Msg
		if err := r.Unpack(h.Respond(make([]byte, 4096), wire, UDP, src)); err != nil {
			t.Fatal(err)
		}
		if r.Rcode != tc.rcode {
			t.Errorf("%s co=%v: rcode %s, want %s", tc.name, tc.co, mdns.RcodeToString[r.Rcode], mdns.RcodeToString[tc.rcode])
		}
		var nsec *mdns.NSEC
		for _, rr := range r.Ns {
			if n, ok := rr.(*mdns.NSEC); ok {
				nsec = n
			}
		}
		if nsec == nil || nsec.Hdr.Name != tc.name || nsec.NextDomain != `\000.`+tc.name {
			t.Fatalf("%s: no compact-denial NSEC:\n%v", tc.name, &r)
		}
		hasNX := false
		for _, b := range nsec.TypeBitMap {
			hasNX = hasNX || b == dnssec.TypeNXNAME
			if b == tc.qtype {
				t.Errorf("%s: the NSEC lists the type asked for", tc.name)
			}
		}
		if hasNX != tc.nxn {
			t.Errorf("%s: NXNAME in bitmap = %v, want %v", tc.name, hasNX, tc.nxn)
		}
		if n := verifyAll(t, key, r.Ns); n != 2 {
			t.Errorf("%s: %d signed RRsets in authority, want 2 (SOA, NSEC)", tc.name, n)
		}
	}
}

// TestSignedTruncation: an RRset that fits the client's UDP size unsigned but not with its RRSIG
// is sent TC with no answer (never an RRset without its signature, nor a signature without its
// RRset); with a bigger buffer, or over TCP, it comes whole and signed.
func TestSignedTruncation(t *testing.T) {
	var recs strings.Builder
	for i := range 3 {
		fmt.Fprintf(&recs, "[[zones.\"gslb.test\".records]]\nname = \"txt\"\ntype = \"TXT\"\ndata = \"%d%s\"\n", i, strings.Repeat("x", 110))
	}
	h, key := signedGSLB(t, recs.String())
	src := netip.MustParseAddrPort("127.0.0.1:5300")
	ask := func(do bool, size uint16, proto Proto) *mdns.Msg {
		t.Helper()
		m := new(mdns.Msg)
		m.SetQuestion("txt.gslb.test.", mdns.TypeTXT)
		m.SetEdns0(size, do)
		wire, _ := m.Pack()
		var r mdns.Msg
		out := h.Respond(make([]byte, 65535), wire, proto, src)
		if proto == UDP && len(out) > int(size) {
			t.Errorf("do=%v size %d: a %d-byte reply over UDP", do, size, len(out))
		}
		if err := r.Unpack(out); err != nil {
			t.Fatal(err)
		}
		return &r
	}
	if r := ask(false, 512, UDP); r.Truncated || countType(r.Answer, mdns.TypeTXT) != 3 {
		t.Fatalf("unsigned in 512 bytes: TC %v, %d TXT; the test's records should fit unsigned", r.Truncated, countType(r.Answer, mdns.TypeTXT))
	}
	if r := ask(true, 512, UDP); !r.Truncated || len(r.Answer) != 0 || len(r.Ns) != 0 {
		t.Errorf("signed in 512 bytes: TC %v with %d answers, %d authority; want TC and none:\n%v", r.Truncated, len(r.Answer), len(r.Ns), r)
	}
	for _, tc := range []struct {
		size  uint16
		proto Proto
	}{{1232, UDP}, {512, TCP}} {
		r := ask(true, tc.size, tc.proto)
		if r.Truncated || countType(r.Answer, mdns.TypeTXT) != 3 || verifyAll(t, key, r.Answer) != 1 {
			t.Errorf("signed, %d bytes over %s: TC %v, %d TXT; want all three and their RRSIG:\n%v", tc.size, tc.proto, r.Truncated, countType(r.Answer, mdns.TypeTXT), r)
		}
	}
}

// verifyAll checks every RRSIG in rrs against the RRset it covers and returns how many it checked.
func verifyAll(t *testing.T, key *mdns.DNSKEY, rrs []mdns.RR) int {
	t.Helper()
	n := 0
	for _, rr := range rrs {
		sig, ok := rr.(*mdns.RRSIG)
		if !ok {
			continue
		}
		var set []mdns.RR
		for _, x := range rrs {
			if x.Header().Rrtype == sig.TypeCovered && mdns.CanonicalName(x.Header().Name) == mdns.CanonicalName(sig.Hdr.Name) {
				set = append(set, x)
			}
		}
		if err := sig.Verify(key, set); err != nil {
			t.Errorf("RRSIG %s: %v", sig, err)
		}
		if !sig.ValidityPeriod(time.Now()) {
			t.Errorf("RRSIG %s: not valid now", sig)
		}
		n++
	}
	return n
}

func countType(rrs []mdns.RR, typ uint16) int {
	n := 0
	for _, rr := range rrs {
		if rr.Header().Rrtype == typ {
			n++
		}
	}
	return n
}

// BenchmarkRespondSigned: a load-balanced answer asked with DO and ECS, from an unsigned and a
// signed zone (signatures cached after the first query): the cost of signing on the fast path.
func BenchmarkRespondSigned(b *testing.B) {
	for _, signed := range []bool{false, true} {
		b.Run(fmt.Sprintf("signed=%v", signed), func(b *testing.B) {
			h := newGSLBHandler(b, writeGSLB(b))
			if signed {
				h, _ = signedGSLB(b)
			}
			q := serviceQueries(b)[11] // hash.gslb.test A, DO, ECS 81.2.69.0/24
			out := make([]byte, 4096)
			src := netip.MustParseAddrPort("127.0.0.1:5300")
			var m mdns.Msg
			if err := m.Unpack(h.Respond(out, q, UDP, src)); err != nil || (countType(m.Answer, mdns.TypeRRSIG) > 0) != signed {
				b.Fatalf("reply (%v) not as benchmarked:\n%v", err, &m)
			}
			b.ReportAllocs()
			for b.Loop() {
				h.Respond(out, q, UDP, src)
			}
		})
	}
}

// TestReloadKeepsSigner: a reload with the same keys and options keeps the running signer and its
// cached signatures; a new key makes a new signer.
func TestReloadKeepsSigner(t *testing.T) {
	path := writeGSLB(t)
	orig, _ := os.ReadFile(path)
	dir := t.TempDir()
	sign := func() {
		t.Helper()
		base, _, err := dnssec.Generate(dir, "gslb.test", mdns.ECDSAP256SHA256, dnssec.FlagsKSK, 3600)
		if err != nil {
			t.Fatal(err)
		}
		conf := fmt.Sprintf("%s\n[zones.\"gslb.test\".dnssec]\nkeys = [%q]\n", orig, base)
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	signer := func(h *Handler) *dnssec.Signer {
		for _, sg := range h.snap.Load().signers {
			if sg.Zone() == "gslb.test." {
				return sg
			}
		}
		t.Fatal("gslb.test has no signer")
		return nil
	}
	reload := func(h *Handler) {
		t.Helper()
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Reload(cfg); err != nil {
			t.Fatal(err)
		}
	}
	sign()
	h := newGSLBHandler(t, path)
	first := signer(h)
	reload(h)
	if signer(h) != first {
		t.Error("a reload with the same keys made a new signer (its cache is lost)")
	}
	sign()
	reload(h)
	if signer(h) == first {
		t.Error("a reload with a new key kept the old signer")
	}
}
