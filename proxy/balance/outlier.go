package balance

import (
	"sync"
	"sync/atomic"
	"time"
)

// Outlier is passive outlier detection, as Envoy and Caddy do it: an upstream that fails
// Failures times in a row (connect errors, or 5xx for the L7 proxy) is ejected, out of
// selection, for Base; each further ejection without a success in between doubles the time, up
// to Max. A success resets the count and the backoff. The zero value never ejects.
type Outlier struct {
	Failures int
	Base     time.Duration
	Max      time.Duration
	// OnEject, when set, is called (outside any lock) each time an upstream is ejected.
	OnEject func(u *Upstream, d time.Duration)
}

// ejection is an upstream's passive-health state.
type ejection struct {
	ejected  atomic.Bool
	failures atomic.Int32 // consecutive
	streak   atomic.Int32 // ejections since the last success
	mu       sync.Mutex   // guards timer and ejecting
	timer    *time.Timer
}

// Ejected reports whether passive outlier detection has taken u out of selection.
func (u *Upstream) Ejected() bool { return u.ejection.ejected.Load() }

// Succeeded records a good result (a connection made, or a response below 500): the
// consecutive failure count and the ejection backoff start again.
func (u *Upstream) Succeeded() {
	e := &u.ejection
	if e.failures.Load() != 0 { // the common case is two atomic loads and no writes
		e.failures.Store(0)
	}
	if e.streak.Load() != 0 {
		e.streak.Store(0)
	}
}

// Failed records a bad result under o and reports whether it ejected u. An upstream that is
// already ejected is not ejected again; its failures in flight do not count.
func (u *Upstream) Failed(o *Outlier) bool {
	if o == nil || o.Failures <= 0 {
		return false
	}
	e := &u.ejection
	if e.ejected.Load() || int(e.failures.Add(1)) < o.Failures {
		return false
	}
	e.mu.Lock()
	if e.ejected.Load() {
		e.mu.Unlock()
		return false
	}
	d := o.Base
	if d <= 0 {
		d = 10 * time.Second
	}
	for i := int32(0); i < e.streak.Load() && (o.Max <= 0 || d < o.Max); i++ {
		d *= 2
	}
	if o.Max > 0 && d > o.Max {
		d = o.Max
	}
	e.streak.Add(1)
	e.failures.Store(0)
	e.ejected.Store(true)
	if e.timer != nil {
		e.timer.Stop()
	}
	e.timer = time.AfterFunc(d, func() { e.ejected.Store(false) })
	e.mu.Unlock()
	if o.OnEject != nil {
		o.OnEject(u, d)
	}
	return true
}
