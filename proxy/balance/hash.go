package balance

import (
	"math"
)

// LoadFactor is c in consistent hashing with bounded loads: no upstream takes a request that
// would put it above ceil(c × average in-flight).
const LoadFactor = 1.25

// IPHash maps FNV-1a(key) modulo the number of available upstreams. Any change in which
// upstreams are available remaps most keys; see ConsistentHash. The zero value is ready.
type IPHash struct{}

func (IPHash) Select(pool []*Upstream, key string) *Upstream {
	n := countAvailable(pool)
	if n == 0 {
		return nil
	}
	return nthAvailable(pool, int(fnv1a(fnvOffset, key)%uint64(n)))
}

// ConsistentHash is weighted rendezvous hashing with bounded loads. The zero value is ready.
//
// Each available upstream scores -weight/ln(h), h being a hash of key and Addr mapped into
// (0,1); the highest score wins, so removing an upstream moves only its own keys. An upstream
// whose in-flight count has reached ceil(LoadFactor × (total in-flight + 1) / available),
// the average with this request counted, is skipped in favour of the next-highest score.
// Some upstream is always below that bound, since the average is.
type ConsistentHash struct{}

func (ConsistentHash) Select(pool []*Upstream, key string) *Upstream {
	var n, total int64
	for _, u := range pool {
		if u.Available() {
			n++
			total += u.InFlight()
		}
	}
	if n == 0 {
		return nil
	}
	limit := int64(math.Ceil(LoadFactor * float64(total+1) / float64(n)))
	kh := fnv1a(fnvOffset, key)
	kh = fnvByte(kh, 0) // separate key from address
	var (
		best, fallback           *Upstream
		bestScore, fallbackScore = math.Inf(-1), math.Inf(-1)
	)
	for _, u := range pool {
		if !u.Available() {
			continue
		}
		s := hrwScore(kh, u)
		if s > fallbackScore {
			fallback, fallbackScore = u, s
		}
		if u.InFlight() < limit && s > bestScore {
			best, bestScore = u, s
		}
	}
	if best == nil { // in-flight counts moved under us; keep the key's owner
		return fallback
	}
	return best
}

// hrwScore is the weighted rendezvous score of u for a key hashed to kh.
func hrwScore(kh uint64, u *Upstream) float64 {
	h := mix64(fnv1a(kh, u.Addr))
	// Top 53 bits, centred in their interval: strictly inside (0,1), so ln is finite and < 0.
	h01 := (float64(h>>11) + 0.5) / (1 << 53)
	return -float64(u.weight()) / math.Log(h01)
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fnv1a continues a 64-bit FNV-1a hash h over s; start from fnvOffset.
func fnv1a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = fnvByte(h, s[i])
	}
	return h
}

func fnvByte(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

// mix64 is MurmurHash3's 64-bit finalizer; FNV's high bits are weak on short, similar
// strings, and HRW uses them all.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
