package l7

import (
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// limiter is a token bucket per client IP, sharded to keep lock hold times short.
type limiter struct {
	rate   float64 // tokens per second
	burst  float64
	seed   maphash.Seed
	shards [16]limiterShard
}

type limiterShard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(rl RateLimit) *limiter {
	if rl.Rate <= 0 {
		return nil
	}
	l := &limiter{rate: rl.Rate, burst: float64(rl.Burst), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].buckets = make(map[string]*bucket)
	}
	return l
}

// allow takes a token for ip; when none is left it returns false and the whole seconds,
// at least 1, until one will be.
func (l *limiter) allow(ip string, now time.Time) (bool, int) {
	sh := &l.shards[maphash.String(l.seed, ip)%uint64(len(l.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.buckets[ip]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		sh.buckets[ip] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := (1 - b.tokens) / l.rate
	return false, max(1, int(math.Ceil(wait)))
}

// sweep forgets buckets that have been full for a while, so idle clients cost no memory.
func (l *limiter) sweep(now time.Time) {
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for ip, b := range sh.buckets {
			if now.Sub(b.last) > full+time.Minute {
				delete(sh.buckets, ip)
			}
		}
		sh.mu.Unlock()
	}
}
