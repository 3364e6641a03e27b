package dnssec

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Options are the signature timing of a zone.
type Options struct {
	// Validity is how long a signature is valid from the moment it is made. Default 14 days.
	Validity time.Duration
	// Backdate puts the inception this far in the past, for validators whose clocks are behind.
	// Default 1 hour.
	Backdate time.Duration
	// Refresh: a cached signature with less than this left is made anew. Default 4 days (so
	// a validator caching an answer for its TTL never sees an expired signature).
	Refresh time.Duration
	// CacheSize bounds the cached signature sets (one per distinct RRset). Default 100000.
	CacheSize int
}

// Defaults for Options.
const (
	DefaultValidity  = 14 * 24 * time.Hour
	DefaultBackdate  = time.Hour
	DefaultRefresh   = 4 * 24 * time.Hour
	DefaultCacheSize = 100_000
)

func (o Options) withDefaults() Options {
	if o.Validity == 0 {
		o.Validity = DefaultValidity
	}
	if o.Backdate == 0 {
		o.Backdate = DefaultBackdate
	}
	if o.Refresh == 0 {
		o.Refresh = DefaultRefresh
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	return o
}

// Metrics are the signers' counters, shared by every zone (labelled by zone).
type Metrics struct {
	signatures *prometheus.CounterVec   // meridian_dnssec_signatures_total{zone}
	hits       *prometheus.CounterVec   // meridian_dnssec_cache_hits_total{zone}
	seconds    *prometheus.HistogramVec // meridian_dnssec_signing_seconds{zone}
}

// NewMetrics registers the signing metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		signatures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meridian", Subsystem: "dnssec", Name: "signatures_total",
			Help: "RRSIGs made, by zone (a cache miss or a refresh signs with every key that signs the RRset).",
		}, []string{"zone"}),
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meridian", Subsystem: "dnssec", Name: "cache_hits_total",
			Help: "RRsets answered with signatures from the cache, by zone.",
		}, []string{"zone"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "meridian", Subsystem: "dnssec", Name: "signing_seconds",
			Help:    "Time to sign one RRset with every key that signs it, by zone.",
			Buckets: []float64{1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 1e-2},
		}, []string{"zone"}),
	}
	reg.MustRegister(m.signatures, m.hits, m.seconds)
	return m
}

// Signer signs one zone's RRsets. It is safe for concurrent use.
type Signer struct {
	zone   string
	zsks   []*Key   // sign every RRset but DNSKEY
	ksks   []*Key   // sign the DNSKEY RRset
	dnskey []dns.RR // the published DNSKEY RRset: every key, signing or not
	opts   Options

	seed   maphash.Seed
	shards [shards]shard
	cap    int // per shard

	signatures prometheus.Counter
	hits       prometheus.Counter
	seconds    prometheus.Observer
}

const shards = 16

type shard struct {
	mu sync.RWMutex
	m  map[string]*Sigs
}

// Sigs are the signatures of one RRset.
type Sigs struct {
	RRSIGs []dns.RR
	// Wire holds each RRSIG in wire form after its owner name (type, class, TTL, RDLENGTH,
	// RDATA), for replies written by hand with the owner as a compression pointer.
	Wire [][]byte
	// Refresh is the Unix second from which these are made anew.
	Refresh int64
}

// New makes the signer of zone. keys sign; published are only put in the DNSKEY RRset (a key
// pre-published for a rollover, or one being retired). SEP keys (KSK or CSK) sign the DNSKEY
// RRset, the others (ZSKs) every other RRset; with no ZSK the SEP keys sign everything (a CSK).
func New(zone string, keys, published []*Key, dnskeyTTL uint32, o Options, m *Metrics) (*Signer, error) {
	s := &Signer{zone: zone, opts: o.withDefaults(), seed: maphash.MakeSeed()}
	if len(keys) == 0 {
		return nil, fmt.Errorf("zone %s: no signing key", zone)
	}
	seen := map[uint16]string{}
	for _, k := range append(slices.Clone(keys), published...) {
		if prev, dup := seen[k.Tag]; dup {
			return nil, fmt.Errorf("zone %s: keys %s and %s have the same key tag %d; generate another", zone, prev, k.Base, k.Tag)
		}
		seen[k.Tag] = k.Base
		d := *k.DNSKEY
		d.Hdr.Ttl = dnskeyTTL
		s.dnskey = append(s.dnskey, &d)
	}
	for _, k := range keys {
		if k.Signer == nil {
			return nil, fmt.Errorf("zone %s: key %s has no private key", zone, k.Base)
		}
		if k.SEP() {
			s.ksks = append(s.ksks, k)
		} else {
			s.zsks = append(s.zsks, k)
		}
	}
	switch {
	case len(s.zsks) == 0:
		s.zsks = s.ksks
	case len(s.ksks) == 0:
		s.ksks = s.zsks
	}
	s.cap = max(1, s.opts.CacheSize/shards)
	for i := range s.shards {
		s.shards[i].m = map[string]*Sigs{}
	}
	if m != nil {
		s.signatures = m.signatures.WithLabelValues(zone)
		s.hits = m.hits.WithLabelValues(zone)
		s.seconds = m.seconds.WithLabelValues(zone)
	}
	return s, nil
}

// SameAs reports whether o signs exactly as s does: the same zone, the same signing keys in the
// same roles, the same published DNSKEY RRset and options. A reload keeps the running signer
// (and its cache of signatures) when the new one would be the same.
func (s *Signer) SameAs(o *Signer) bool {
	if s == nil || o == nil {
		return s == o
	}
	sameKeys := func(a, b []*Key) bool {
		return slices.EqualFunc(a, b, func(x, y *Key) bool { return x.DNSKEY.String() == y.DNSKEY.String() })
	}
	sameRRs := func(a, b []dns.RR) bool {
		return slices.EqualFunc(a, b, func(x, y dns.RR) bool { return x.String() == y.String() })
	}
	return s.zone == o.zone && s.opts == o.opts && sameKeys(s.zsks, o.zsks) && sameKeys(s.ksks, o.ksks) &&
		sameRRs(s.dnskey, o.dnskey)
}

// Zone is the signer's zone apex.
func (s *Signer) Zone() string { return s.zone }

// DNSKEY is the zone's DNSKEY RRset.
func (s *Signer) DNSKEY() []dns.RR { return s.dnskey }

// Sign returns the signatures of rrset (one name, type and class), from the cache when they
// are not due for a refresh.
func (s *Signer) Sign(rrset []dns.RR, now time.Time) (*Sigs, error) {
	key, err := AppendKey(nil, rrset)
	if err != nil {
		return nil, err
	}
	if sg := s.Cached(key, now.Unix()); sg != nil {
		return sg, nil
	}
	return s.SignAs(key, rrset, now)
}

// Cached returns the cached signatures for the RRset whose key (AppendKey) is key, or nil
// when there are none or they are due for a refresh at now (Unix seconds).
func (s *Signer) Cached(key []byte, now int64) *Sigs {
	sh := &s.shards[maphash.Bytes(s.seed, key)%shards]
	sh.mu.RLock()
	sg := sh.m[string(key)]
	sh.mu.RUnlock()
	if sg == nil || now >= sg.Refresh {
		return nil
	}
	if s.hits != nil {
		s.hits.Inc()
	}
	return sg
}

// SignAs signs rrset, whose key is key, and caches the result.
func (s *Signer) SignAs(key []byte, rrset []dns.RR, now time.Time) (*Sigs, error) {
	start := time.Now()
	keys := s.zsks
	if rrset[0].Header().Rrtype == dns.TypeDNSKEY {
		keys = s.ksks
	}
	h := rrset[0].Header()
	inception, expiration := now.Add(-s.opts.Backdate), now.Add(s.opts.Validity)
	sg := &Sigs{Refresh: expiration.Add(-s.opts.Refresh).Unix()}
	buf := make([]byte, 512)
	ownerLen, err := dns.PackDomainName(h.Name, buf, 0, nil, false)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		sig := &dns.RRSIG{
			Hdr:        dns.RR_Header{Name: h.Name, Rrtype: dns.TypeRRSIG, Class: h.Class, Ttl: h.Ttl},
			Algorithm:  k.DNSKEY.Algorithm,
			KeyTag:     k.Tag,
			SignerName: s.zone,
			Inception:  uint32(inception.Unix()),
			Expiration: uint32(expiration.Unix()),
		}
		if err := sig.Sign(k.Signer, rrset); err != nil {
			return nil, fmt.Errorf("sign %s %s with key %d: %w", h.Name, dns.TypeToString[h.Rrtype], k.Tag, err)
		}
		n, err := dns.PackRR(sig, buf, 0, nil, false)
		if err != nil {
			return nil, err
		}
		sg.RRSIGs = append(sg.RRSIGs, sig)
		sg.Wire = append(sg.Wire, bytes.Clone(buf[ownerLen:n]))
	}
	sh := &s.shards[maphash.Bytes(s.seed, key)%shards]
	sh.mu.Lock()
	if len(sh.m) >= s.cap {
		for k := range sh.m { // an arbitrary victim: random keys can churn the cache, not grow it
			delete(sh.m, k)
			break
		}
	}
	sh.m[string(key)] = sg
	sh.mu.Unlock()
	if s.signatures != nil {
		s.signatures.Add(float64(len(keys)))
		s.seconds.Observe(time.Since(start).Seconds())
	}
	return sg, nil
}

// Len is the number of cached signature sets.
func (s *Signer) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// AppendKey appends the cache key of rrset to b: its records in wire form, uncompressed, in
// canonical order (RFC 4034 §6.3), so the same set in another order has the same key.
func AppendKey(b []byte, rrset []dns.RR) ([]byte, error) {
	recs := make([][]byte, len(rrset))
	buf := make([]byte, 1024)
	for i, rr := range rrset {
		n, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			return nil, fmt.Errorf("pack %s: %w", rr.Header().Name, err)
		}
		recs[i] = bytes.Clone(buf[:n])
	}
	slices.SortFunc(recs, bytes.Compare)
	for _, r := range recs {
		b = append(b, r...)
	}
	return b, nil
}

// AppendAddrKey appends to b the key AppendKey gives the A or AAAA RRset of addrs owned by
// owner (its lower-case wire form) with ttl, without making the records: the fast path's way
// to find a load-balanced answer's signatures.
func AppendAddrKey(b, owner []byte, rrtype uint16, ttl uint32, addrs []netip.Addr) []byte {
	var scratch [32]netip.Addr
	sorted := append(scratch[:0], addrs...)
	slices.SortFunc(sorted, netip.Addr.Compare) // one family: the order of their bytes
	for _, a := range sorted {
		b = append(b, owner...)
		b = append(b, byte(rrtype>>8), byte(rrtype), 0, byte(dns.ClassINET),
			byte(ttl>>24), byte(ttl>>16), byte(ttl>>8), byte(ttl))
		if a.Is4() {
			a4 := a.As4()
			b = append(b, 0, 4)
			b = append(b, a4[:]...)
		} else {
			a16 := a.As16()
			b = append(b, 0, 16)
			b = append(b, a16[:]...)
		}
	}
	return b
}
