package balance

import (
	"sync/atomic"
	"time"
)

// Upstream is one backend. Its counters are atomics, safe for concurrent use.
// An Upstream must not be copied after first use; share it by pointer.
type Upstream struct {
	// ID names the backend where health and overrides are kept: the pool's endpoint ID
	// ("pool/address") for backends taken from a pool, else the address.
	ID     string
	Addr   string // host:port
	Weight int    // >= 1; NewUpstream raises smaller values to 1

	inflight atomic.Int64
	down     atomic.Bool // inverted so that the zero value is healthy
	draining atomic.Bool
	drainAt  atomic.Int64 // unix nanoseconds SetDraining(true) was first called; 0 when not draining
	ejection ejection
}

// NewUpstream returns a healthy, non-draining upstream. A weight below 1 is taken as 1.
func NewUpstream(addr string, weight int) *Upstream {
	return &Upstream{Addr: addr, Weight: max(weight, 1)}
}

// Available reports whether u may be selected: healthy, not draining and not ejected.
func (u *Upstream) Available() bool {
	return !u.down.Load() && !u.draining.Load() && !u.ejection.ejected.Load()
}

// Healthy reports the last state given to SetHealthy (true until then).
func (u *Upstream) Healthy() bool { return !u.down.Load() }

// SetHealthy records the health checker's verdict.
func (u *Upstream) SetHealthy(ok bool) { u.down.Store(!ok) }

// Draining reports whether u is draining.
func (u *Upstream) Draining() bool { return u.draining.Load() }

// SetDraining takes u out of (or back into) selection; in-flight work is not affected.
// The proxies end work still running drain_timeout after DrainingSince.
func (u *Upstream) SetDraining(d bool) {
	if d && u.draining.CompareAndSwap(false, true) {
		u.drainAt.Store(time.Now().UnixNano())
	} else if !d && u.draining.CompareAndSwap(true, false) {
		u.drainAt.Store(0)
	}
}

// DrainingSince is when u started draining; the zero time when it is not draining.
func (u *Upstream) DrainingSince() time.Time {
	if ns := u.drainAt.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Acquire counts one in-flight request or connection. Call Release exactly once, when it ends.
func (u *Upstream) Acquire() { u.inflight.Add(1) }

// TryAcquire is Acquire unless u already has limit or more in flight (limit <= 0: no limit).
func (u *Upstream) TryAcquire(limit int64) bool {
	if limit <= 0 {
		u.inflight.Add(1)
		return true
	}
	if u.inflight.Add(1) > limit {
		u.inflight.Add(-1)
		return false
	}
	return true
}

// Release ends one Acquire.
func (u *Upstream) Release() { u.inflight.Add(-1) }

// InFlight is the number of acquired, unreleased requests or connections.
func (u *Upstream) InFlight() int64 { return u.inflight.Load() }

// weight is Weight, at least 1, for upstreams built without NewUpstream.
func (u *Upstream) weight() int { return max(u.Weight, 1) }

// countAvailable returns how many upstreams in pool are available.
func countAvailable(pool []*Upstream) int {
	n := 0
	for _, u := range pool {
		if u.Available() {
			n++
		}
	}
	return n
}

// nthAvailable returns the i-th (from 0) available upstream in pool. Availability may change
// between counting and this walk; if fewer than i+1 are available now it returns the last
// available one, and nil only when none is.
func nthAvailable(pool []*Upstream, i int) *Upstream {
	var last *Upstream
	for _, u := range pool {
		if !u.Available() {
			continue
		}
		if i == 0 {
			return u
		}
		i--
		last = u
	}
	return last
}
