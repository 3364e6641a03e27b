package dnssec

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func newKey(t *testing.T, dir string, alg uint8, flags uint16) *Key {
	t.Helper()
	base, _, err := Generate(dir, "Example.Test", alg, flags, 3600)
	if err != nil {
		t.Fatal(err)
	}
	k, err := Read(base, "example.test.", true)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestGenerateAndRead(t *testing.T) {
	for name, alg := range Algorithms {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			k := newKey(t, dir, alg, FlagsKSK)
			if want := filepath.Join(dir, fmt.Sprintf("Kexample.test.+%03d+", alg)); !strings.HasPrefix(k.Base, want) {
				t.Errorf("base %s, want prefix %s", k.Base, want)
			}
			if !k.SEP() || k.DNSKEY.Algorithm != alg {
				t.Errorf("flags %d alg %d", k.DNSKEY.Flags, k.DNSKEY.Algorithm)
			}
			st, err := os.Stat(k.Base + ".private")
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("private key file: %v mode %v, want 0600", err, st.Mode())
			}
			if _, _, err := Generate(dir, "example.test", alg, FlagsKSK, 3600); err != nil {
				t.Errorf("a second key: %v", err)
			}
			if _, err := Read(k.Base, "other.test.", true); err == nil {
				t.Error("a key read for another zone: no error")
			}
		})
	}
}

func TestReadRefusesAMismatchedPair(t *testing.T) {
	dir := t.TempDir()
	a := newKey(t, dir, dns.ECDSAP256SHA256, FlagsKSK)
	b := newKey(t, dir, dns.ECDSAP256SHA256, FlagsKSK)
	priv, err := os.ReadFile(b.Base + ".private")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a.Base+".private", priv, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Read(a.Base, "example.test.", true)
	if err == nil || !strings.Contains(err.Error(), "does not hold the private half") {
		t.Fatalf("err = %v, want a mismatch", err)
	}
	if strings.Contains(err.Error(), "PrivateKey") || bytes.Contains([]byte(err.Error()), priv[len(priv)-20:]) {
		t.Errorf("the error shows the private key: %v", err)
	}
}

func TestSignVerifiesAndCaches(t *testing.T) {
	dir := t.TempDir()
	ksk := newKey(t, dir, dns.ECDSAP256SHA256, FlagsKSK)
	zsk := newKey(t, dir, dns.ED25519, FlagsZSK)
	next := newKey(t, dir, dns.ECDSAP256SHA256, FlagsZSK)
	next.Signer = nil
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	s, err := New("example.test.", []*Key{ksk, zsk}, []*Key{next}, 3600, Options{Validity: 10 * time.Hour, Backdate: time.Hour, Refresh: 2 * time.Hour}, m)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(s.DNSKEY()); got != 3 {
		t.Fatalf("DNSKEY RRset has %d keys, want 3 (the published one included)", got)
	}
	a := func(addr string) dns.RR {
		rr, _ := dns.NewRR("www.example.test. 30 IN A " + addr)
		return rr
	}
	now := time.Unix(1_800_000_000, 0)
	set := []dns.RR{a("192.0.2.2"), a("192.0.2.1")}
	sg, err := s.Sign(set, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(sg.RRSIGs) != 1 {
		t.Fatalf("%d RRSIGs over an A RRset, want 1 (the ZSK's)", len(sg.RRSIGs))
	}
	sig := sg.RRSIGs[0].(*dns.RRSIG)
	if err := sig.Verify(zsk.DNSKEY, set); err != nil {
		t.Errorf("verify with the ZSK: %v", err)
	}
	if sig.Inception != uint32(now.Add(-time.Hour).Unix()) || sig.Expiration != uint32(now.Add(10*time.Hour).Unix()) {
		t.Errorf("inception %d expiration %d", sig.Inception, sig.Expiration)
	}
	// The same set in the other order is a hit; so is its address key.
	again, _ := s.Sign([]dns.RR{set[1], set[0]}, now.Add(time.Hour))
	if again != sg {
		t.Error("the same RRset in another order was signed again")
	}
	owner := make([]byte, 64)
	n, _ := dns.PackDomainName("www.example.test.", owner, 0, nil, false)
	key := AppendAddrKey(nil, owner[:n], dns.TypeA, 30, []netip.Addr{netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.1")})
	if s.Cached(key, now.Unix()) != sg {
		t.Error("AppendAddrKey does not find what Sign cached")
	}
	// Within the refresh margin: made anew.
	later := now.Add(8*time.Hour + time.Second)
	fresh, _ := s.Sign(set, later)
	if fresh == sg || fresh.RRSIGs[0].(*dns.RRSIG).Expiration != uint32(later.Add(10*time.Hour).Unix()) {
		t.Error("a signature within the refresh margin was not made anew")
	}
	// The DNSKEY RRset is signed by the KSK only.
	ksig, _ := s.Sign(s.DNSKEY(), now)
	if len(ksig.RRSIGs) != 1 || ksig.RRSIGs[0].(*dns.RRSIG).KeyTag != ksk.Tag {
		t.Fatalf("DNSKEY signatures %v, want the KSK's alone", ksig.RRSIGs)
	}
	if err := ksig.RRSIGs[0].(*dns.RRSIG).Verify(ksk.DNSKEY, s.DNSKEY()); err != nil {
		t.Errorf("verify DNSKEY: %v", err)
	}
	// The wire form after the owner is the RRSIG as packed.
	buf := make([]byte, 512)
	full, _ := dns.PackRR(sig, buf, 0, nil, false)
	if !bytes.Equal(buf[n:full], sg.Wire[0]) {
		t.Error("Wire is not the packed RRSIG after its owner")
	}
	if got := testutil.ToFloat64(m.signatures.WithLabelValues("example.test.")); got != 3 {
		t.Errorf("signatures_total %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.hits.WithLabelValues("example.test.")); got != 2 {
		t.Errorf("cache_hits_total %v, want 2", got)
	}
}

func TestCacheIsBounded(t *testing.T) {
	k := newKey(t, t.TempDir(), dns.ED25519, FlagsKSK)
	s, err := New("example.test.", []*Key{k}, nil, 3600, Options{CacheSize: 32}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 500 {
		rr, _ := dns.NewRR("x.example.test. 30 IN A 10.0." + strconv.Itoa(i/100) + "." + strconv.Itoa(i%100))
		if _, err := s.Sign([]dns.RR{rr}, now); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Len(); n > 32 {
		t.Errorf("%d cached sets, want at most 32", n)
	}
}

func TestCompactDenial(t *testing.T) {
	n := NSEC("nope.example.test.", []uint16{TypeNXNAME}, 60)
	if n.NextDomain != `\000.nope.example.test.` {
		t.Errorf("next %s", n.NextDomain)
	}
	want := []uint16{dns.TypeRRSIG, dns.TypeNSEC, TypeNXNAME}
	if len(n.TypeBitMap) != 3 || n.TypeBitMap[0] != want[0] || n.TypeBitMap[1] != want[1] || n.TypeBitMap[2] != want[2] {
		t.Errorf("bitmap %v, want %v", n.TypeBitMap, want)
	}
	if _, err := dns.PackRR(n, make([]byte, 512), 0, nil, false); err != nil {
		t.Errorf("pack: %v", err)
	}
}
