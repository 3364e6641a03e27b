package rrl

import (
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/bits"
	"net/netip"
	"time"
)

// Defaults and bounds of Options.
const (
	DefaultWindow     = 15 * time.Second // BIND's default window
	DefaultSlip       = 2                // recommended Slip (BIND's default); not applied by New
	DefaultIPv4Prefix = 24
	DefaultIPv6Prefix = 56
	DefaultTableSize  = 65536

	MinWindow             = time.Second
	MaxWindow             = time.Hour
	MaxSlip               = 10
	MaxResponsesPerSecond = 1_000_000
	MaxTableSize          = 1 << 30
)

// Options configures a Limiter. The zero value of a field selects its default where one is
// stated; New rejects values out of range.
type Options struct {
	// ResponsesPerSecond is the rate allowed per bucket, that is per (client network, token).
	// A bucket starts with this many credits and holds at most this many. 0 disables the
	// limiter: Decide always returns Send and counts nothing.
	ResponsesPerSecond int

	// Window bounds a bucket's debt to ResponsesPerSecond × Window credits, so a client that
	// stops flooding is answered again at most Window later. 0 means DefaultWindow (15s); the
	// range is MinWindow (1s) to MaxWindow (1h).
	Window time.Duration

	// Slip: every Slip-th limited response of a bucket is Slip (sent truncated, TC=1, empty)
	// instead of Drop. 0 never slips (all limited responses are dropped), 1 slips all; the
	// recommended value is DefaultSlip (2). At most MaxSlip.
	Slip int

	// IPv4Prefix and IPv6Prefix are the prefix lengths that make a client network: 0 means
	// 24 and 56; the ranges are 1–32 and 1–128.
	IPv4Prefix, IPv6Prefix int

	// Exempt lists networks never limited. IPv4-mapped IPv6 prefixes (::ffff:a.b.c.d/n with
	// n >= 96) are treated as the IPv4 prefix they denote. Checked linearly: keep it short.
	Exempt []netip.Prefix

	// LogOnly makes Decide decide and count as usual but always return Send; Stats then
	// reports in WouldDrop and WouldSlip what would have been limited.
	LogOnly bool

	// TableSize bounds the number of buckets kept (0 means DefaultTableSize); when full, the
	// least recently used bucket of a shard is reused. At most MaxTableSize.
	TableSize int

	// Now returns the current time; nil means time.Now. Tests drive a fake clock with it.
	Now func() time.Time
}

// Kind is what a response is, which decides its token.
type Kind uint8

const (
	// Answer is a positive answer or NODATA; its token is the query name and type.
	Answer Kind = iota
	// NXDomain is a name error; its token is the zone, passed as the name.
	NXDomain
	// Error is REFUSED, SERVFAIL, FORMERR and the like; one token per client network.
	Error
)

// String returns the kind's name, suitable as a metric label.
func (k Kind) String() string {
	switch k {
	case Answer:
		return "answer"
	case NXDomain:
		return "nxdomain"
	case Error:
		return "error"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Action is what to do with a response.
type Action uint8

const (
	// Send the response as prepared.
	Send Action = iota
	// Drop the response: send nothing.
	Drop
	// Slip sends, instead of the response, a truncated one (TC=1, question only) so that a
	// genuine client retries over TCP. For Kind Error, send the error response unchanged.
	Slip
)

// String returns the action's name, suitable as a metric label.
func (a Action) String() string {
	switch a {
	case Send:
		return "send"
	case Drop:
		return "drop"
	case Slip:
		return "slip"
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// Stats are cumulative counters since New, plus the current table occupancy.
type Stats struct {
	Sent      uint64 // Decide returned Send: allowed, exempt, or limited in LogOnly mode
	Dropped   uint64 // Decide returned Drop
	Slipped   uint64 // Decide returned Slip
	WouldDrop uint64 // LogOnly: returned Send but would have been Drop (included in Sent)
	WouldSlip uint64 // LogOnly: returned Send but would have been Slip (included in Sent)
	Exempt    uint64 // returned Send because the client is in Options.Exempt (included in Sent)
	Evicted   uint64 // buckets reused for another token because their shard was full
	Buckets   int    // buckets held now; never more than the table size
}

// creditUnit is one credit in the fixed-point unit of bucket balances. A balance earns rate
// units per nanosecond, that is rate credits per second.
const creditUnit = int64(time.Second)

// Limiter decides the fate of UDP responses. It is safe for concurrent use; create it with
// New.
type Limiter struct {
	enabled bool
	logOnly bool
	slip    uint32

	rate      int64 // units earned per nanosecond (= credits per second)
	maxCredit int64 // rate × creditUnit
	minCredit int64 // one credit less than rate × Window of debt, in units
	fullAfter int64 // ns of idleness after which any balance is back to maxCredit

	mask4            uint32
	mask6hi, mask6lo uint64
	exempt           []netip.Prefix

	seed       maphash.Seed
	shardShift uint // 64 - log2(len(shards))
	shards     []shard

	now  func() time.Time
	base time.Time
}

// New validates o and returns a Limiter. Errors name the offending field.
func New(o Options) (*Limiter, error) {
	if o.ResponsesPerSecond < 0 || o.ResponsesPerSecond > MaxResponsesPerSecond {
		return nil, fmt.Errorf("rrl: ResponsesPerSecond must be between 0 and %d, got %d", MaxResponsesPerSecond, o.ResponsesPerSecond)
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.Window < MinWindow || o.Window > MaxWindow {
		return nil, fmt.Errorf("rrl: Window must be between %v and %v (or 0 for %v), got %v", MinWindow, MaxWindow, DefaultWindow, o.Window)
	}
	if o.Slip < 0 || o.Slip > MaxSlip {
		return nil, fmt.Errorf("rrl: Slip must be between 0 and %d, got %d", MaxSlip, o.Slip)
	}
	if o.IPv4Prefix == 0 {
		o.IPv4Prefix = DefaultIPv4Prefix
	}
	if o.IPv4Prefix < 1 || o.IPv4Prefix > 32 {
		return nil, fmt.Errorf("rrl: IPv4Prefix must be between 1 and 32 (or 0 for %d), got %d", DefaultIPv4Prefix, o.IPv4Prefix)
	}
	if o.IPv6Prefix == 0 {
		o.IPv6Prefix = DefaultIPv6Prefix
	}
	if o.IPv6Prefix < 1 || o.IPv6Prefix > 128 {
		return nil, fmt.Errorf("rrl: IPv6Prefix must be between 1 and 128 (or 0 for %d), got %d", DefaultIPv6Prefix, o.IPv6Prefix)
	}
	if o.TableSize == 0 {
		o.TableSize = DefaultTableSize
	}
	if o.TableSize < 1 || o.TableSize > MaxTableSize {
		return nil, fmt.Errorf("rrl: TableSize must be between 1 and %d (or 0 for %d), got %d", MaxTableSize, DefaultTableSize, o.TableSize)
	}
	exempt := make([]netip.Prefix, 0, len(o.Exempt))
	for i, p := range o.Exempt {
		if !p.IsValid() {
			return nil, fmt.Errorf("rrl: Exempt[%d] is not a valid prefix: %v", i, p)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		exempt = append(exempt, p.Masked())
	}

	l := &Limiter{
		enabled: o.ResponsesPerSecond > 0,
		logOnly: o.LogOnly,
		slip:    uint32(o.Slip),
		exempt:  exempt,
		seed:    maphash.MakeSeed(),
		now:     o.Now,
	}
	if l.now == nil {
		l.now = time.Now
	}
	l.base = l.now()

	l.rate = int64(o.ResponsesPerSecond)
	l.maxCredit = l.rate * creditUnit
	l.minCredit = creditUnit - l.rate*int64(o.Window)
	l.fullAfter = int64(o.Window) + int64(time.Second)

	l.mask4 = ^uint32(0) << (32 - o.IPv4Prefix)
	if o.IPv6Prefix >= 64 {
		l.mask6hi = ^uint64(0)
		l.mask6lo = ^uint64(0) << (128 - o.IPv6Prefix) // shift of 64 yields 0
	} else {
		l.mask6hi = ^uint64(0) << (64 - o.IPv6Prefix)
	}

	n := 64
	if o.TableSize < n {
		n = 1 << (bits.Len(uint(o.TableSize)) - 1) // largest power of two <= TableSize
	}
	l.shardShift = uint(64 - bits.TrailingZeros(uint(n)))
	l.shards = make([]shard, n)
	for i := range l.shards {
		l.shards[i].init(int32(o.TableSize / n))
	}
	return l, nil
}

// keyMax is the room for a name in the token buffer.
const keyMax = 255

// tokenHead is the fixed part of a token: kind, family, qtype, 16 address bytes, name length.
const tokenHead = 21

// Decide says what to do with one response about to be sent over UDP to client. kind selects
// the token; name is the query name for Answer, the zone for NXDomain, and ignored for Error,
// in uncompressed wire form (any ASCII case: Decide folds it); qtype is the question type,
// used for Answer only. Decide does not retain name.
func (l *Limiter) Decide(client netip.Addr, kind Kind, name []byte, qtype uint16) Action {
	if !l.enabled {
		return Send
	}
	client = client.Unmap().WithZone("")
	for _, p := range l.exempt {
		if p.Contains(client) {
			sh := &l.shards[int(exemptStripe(client))&(len(l.shards)-1)]
			sh.exempt.Add(1)
			sh.sent.Add(1)
			return Send
		}
	}

	var tok [tokenHead + keyMax]byte
	tok[0] = byte(kind)
	if client.Is4() {
		tok[1] = 4
		a := client.As4()
		binary.BigEndian.PutUint32(tok[4:], binary.BigEndian.Uint32(a[:])&l.mask4)
	} else {
		tok[1] = 6
		a := client.As16()
		binary.BigEndian.PutUint64(tok[4:], binary.BigEndian.Uint64(a[:8])&l.mask6hi)
		binary.BigEndian.PutUint64(tok[12:], binary.BigEndian.Uint64(a[8:])&l.mask6lo)
	}
	n := tokenHead
	switch kind {
	case Error:
		// The client network alone.
	case NXDomain:
		n += foldName(tok[tokenHead:], name)
	default:
		binary.BigEndian.PutUint16(tok[2:], qtype)
		n += foldName(tok[tokenHead:], name)
	}
	tok[20] = byte(n - tokenHead)
	h := maphash.Bytes(l.seed, tok[:n])

	now := int64(l.now().Sub(l.base))
	sh := &l.shards[h>>l.shardShift]
	a := sh.decide(l, h, now)
	if l.logOnly && a != Send {
		if a == Drop {
			sh.wouldDrop.Add(1)
		} else {
			sh.wouldSlip.Add(1)
		}
		a = Send
	}
	switch a {
	case Send:
		sh.sent.Add(1)
	case Drop:
		sh.dropped.Add(1)
	default:
		sh.slipped.Add(1)
	}
	return a
}

// foldName copies up to len(dst) bytes of name into dst with ASCII letters in lower case and
// returns the number copied. Wire-form length bytes (0–63) are never letters, so folding is
// safe for both wire and text forms.
func foldName(dst, name []byte) int {
	n := copy(dst, name)
	for i, c := range dst[:n] {
		if 'A' <= c && c <= 'Z' {
			dst[i] = c + ('a' - 'A')
		}
	}
	return n
}

// exemptStripe picks a counter stripe for an exempt client cheaply, so that exempt traffic
// from different clients does not contend on one cache line.
func exemptStripe(a netip.Addr) uint {
	b := a.As16()
	return uint(b[15] ^ b[14] ^ b[13])
}

// Stats returns the counters summed over all shards. It locks each shard briefly to read its
// occupancy; counters are read without stopping Decide, so the sums are a near snapshot.
func (l *Limiter) Stats() Stats {
	var s Stats
	for i := range l.shards {
		sh := &l.shards[i]
		s.Sent += sh.sent.Load()
		s.Dropped += sh.dropped.Load()
		s.Slipped += sh.slipped.Load()
		s.WouldDrop += sh.wouldDrop.Load()
		s.WouldSlip += sh.wouldSlip.Load()
		s.Exempt += sh.exempt.Load()
		s.Evicted += sh.evicted.Load()
		sh.mu.Lock()
		s.Buckets += len(sh.ents)
		sh.mu.Unlock()
	}
	return s
}
