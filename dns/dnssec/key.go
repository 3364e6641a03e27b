package dnssec

import (
	"crypto"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"
)

// Key flags (RFC 4034 §2.1.1): every DNSKEY has the zone key bit; a KSK or CSK also the SEP bit.
const (
	FlagsZSK = dns.ZONE
	FlagsKSK = dns.ZONE | dns.SEP
)

// Algorithms that Generate makes (RFC 8624: both MUST be validated by resolvers).
var Algorithms = map[string]uint8{
	"ecdsap256sha256": dns.ECDSAP256SHA256, // 13, the default
	"ed25519":         dns.ED25519,         // 15
}

// Key is one DNSKEY and, when it signs, its private key.
type Key struct {
	DNSKEY *dns.DNSKEY
	Signer crypto.Signer // nil: published only (a key being introduced or retired)
	Tag    uint16
	// Base is the key's path without the .key/.private suffix, for messages.
	Base string
}

// SEP reports whether the key is a key-signing key (or a CSK): it signs the DNSKEY RRset and
// the parent's DS points at it.
func (k *Key) SEP() bool { return k.DNSKEY.Flags&dns.SEP != 0 }

// Generate makes a new key pair for zone and writes it into dir as BIND does,
// K<zone>+<alg>+<tag>.key (the DNSKEY record) and .private (mode 0600), refusing
// to overwrite either. It returns the base path (without a suffix).
func Generate(dir, zone string, alg uint8, flags uint16, ttl uint32) (string, *dns.DNSKEY, error) {
	zone = dns.Fqdn(strings.ToLower(zone))
	k := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: ttl},
		Flags:     flags,
		Protocol:  3,
		Algorithm: alg,
	}
	bits := 256
	if alg != dns.ECDSAP256SHA256 && alg != dns.ED25519 {
		return "", nil, fmt.Errorf("algorithm %d: only %d (ECDSAP256SHA256) and %d (ED25519) are made here", alg, dns.ECDSAP256SHA256, dns.ED25519)
	}
	priv, err := k.Generate(bits)
	if err != nil {
		return "", nil, fmt.Errorf("generate key: %w", err)
	}
	base := filepath.Join(dir, fmt.Sprintf("K%s+%03d+%05d", zone, alg, k.KeyTag()))
	if err := writeNew(base+".private", k.PrivateKeyString(priv), 0o600); err != nil {
		return "", nil, err
	}
	if err := writeNew(base+".key", k.String()+"\n", 0o644); err != nil {
		os.Remove(base + ".private")
		return "", nil, err
	}
	return base, k, nil
}

func writeNew(path, text string, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadPublic reads base.key: one DNSKEY record (comment lines allowed) owned by zone.
func ReadPublic(base, zone string) (*dns.DNSKEY, error) {
	path := base + ".key"
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zp := dns.NewZoneParser(f, zone, path)
	var k *dns.DNSKEY
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		d, isKey := rr.(*dns.DNSKEY)
		if !isKey || k != nil {
			return nil, fmt.Errorf("%s: want exactly one DNSKEY record", path)
		}
		k = d
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case k == nil:
		return nil, fmt.Errorf("%s: no DNSKEY record", path)
	case !strings.EqualFold(k.Hdr.Name, zone):
		return nil, fmt.Errorf("%s: the key is for %s, not %s", path, k.Hdr.Name, zone)
	case k.Flags&dns.ZONE == 0 || k.Protocol != 3:
		return nil, fmt.Errorf("%s: not a zone key (flags %d, protocol %d)", path, k.Flags, k.Protocol)
	}
	k.Hdr.Name = strings.ToLower(k.Hdr.Name)
	return k, nil
}

// Read reads a key pair, base.key and base.private; with private false only the public half
// (a published-only key). The private key is never logged or put in an error.
func Read(base, zone string, private bool) (*Key, error) {
	pub, err := ReadPublic(base, zone)
	if err != nil {
		return nil, err
	}
	key := &Key{DNSKEY: pub, Tag: pub.KeyTag(), Base: base}
	if !private {
		return key, nil
	}
	path := base + ".private"
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	priv, err := pub.ReadPrivateKey(f, path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: the private key cannot sign", path)
	}
	if !pairs(s, pub) {
		return nil, fmt.Errorf("%s does not hold the private half of %s.key", path, base)
	}
	key.Signer = s
	return key, nil
}

// pairs reports whether s is the private half of k: it signs a probe record with s and
// verifies the signature with k.
func pairs(s crypto.Signer, k *dns.DNSKEY) bool {
	probe := []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: k.Hdr.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{"probe"}}}
	sig := &dns.RRSIG{Hdr: dns.RR_Header{Ttl: 0}, KeyTag: k.KeyTag(), SignerName: k.Hdr.Name,
		Algorithm: k.Algorithm, Inception: 0, Expiration: 1<<32 - 1}
	return sig.Sign(s, probe) == nil && sig.Verify(k, probe) == nil
}

// DS returns the DS record (SHA-256) the parent publishes for a SEP key.
func DS(k *dns.DNSKEY) *dns.DS { return k.ToDS(dns.SHA256) }
