package spill

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

// Tier is one pool a listener spills to: its backends (the pool's endpoints, with the health
// the DNS sees for them) and their selector.
type Tier struct {
	Pool     string // the metric's "to" label and the API's name for it
	Backends []*balance.Upstream
	Selector balance.Selector
}

// Options configure a Spill.
type Options struct {
	Listener string
	Tiers    []Tier // in spill order
	// MaxConns caps the spilled requests (L7) or connections (L4) in flight at once, over all
	// tiers; 0: no cap.
	MaxConns int64
	// Rate caps new spilled requests or connections per second (a token bucket of Burst);
	// 0: no cap.
	Rate  float64
	Burst int
	// Spilled counts spilled work by listener and tier (meridian_proxy_spilled_total); nil:
	// not counted.
	Spilled *prometheus.CounterVec
	Logger  *slog.Logger
	// LogEvery is the least time between two log lines about spilled work (0: 1s); the lines
	// in between are counted in the next one.
	LogEvery time.Duration
}

// Reasons Pick gives for not spilling.
const (
	NoBackend = "no_backend" // no tier has an available backend
	Capped    = "spill_cap"  // spill_max_conns or spill_rate reached
)

// Spill is one listener's spill order and its caps. Safe for concurrent use.
type Spill struct {
	o       Options
	log     *slog.Logger
	counts  []atomic.Uint64 // spilled, per tier
	metrics []prometheus.Counter

	mu         sync.Mutex // guards the bucket and the log's rate limit
	tokens     float64
	refilled   time.Time
	lastLog    time.Time
	suppressed int
	last       atomic.Int64 // unix ns of the last spill; 0: never
}

// New builds a Spill over o.Tiers.
func New(o Options) *Spill {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.LogEvery <= 0 {
		o.LogEvery = time.Second
	}
	if o.Rate > 0 && o.Burst < 1 {
		o.Burst = max(1, int(o.Rate+0.999999))
	}
	s := &Spill{o: o, log: o.Logger.With("component", "proxy", "listener", o.Listener),
		counts: make([]atomic.Uint64, len(o.Tiers)), tokens: float64(o.Burst)}
	for _, t := range o.Tiers {
		var c prometheus.Counter
		if o.Spilled != nil {
			c = o.Spilled.WithLabelValues(o.Listener, t.Pool)
		}
		s.metrics = append(s.metrics, c)
	}
	return s
}

// Tiers are the spill order.
func (s *Spill) Tiers() []Tier { return s.o.Tiers }

// Pick chooses and acquires (TryAcquire(perBackend)) an available backend of the first tier
// that has one and that skip does not exclude (backends a request already tried), counts and
// logs the spill, and returns it with its tier's index. On nil, why is NoBackend or Capped.
// client names the client in the log line.
func (s *Spill) Pick(key string, skip func(*balance.Upstream) bool, perBackend int64, client string) (u *balance.Upstream, tier int, why string) {
	if s.o.MaxConns > 0 && s.InFlight() >= s.o.MaxConns {
		return nil, -1, s.capped(client, "spill_max_conns")
	}
	for i, t := range s.o.Tiers {
		u := s.pickIn(t, key, skip, perBackend)
		if u == nil {
			continue
		}
		if !s.take() {
			u.Release()
			return nil, -1, s.capped(client, "spill_rate")
		}
		s.spilled(i, u, client)
		return u, i, ""
	}
	return nil, -1, NoBackend
}

// pickIn asks t's selector, then any other available backend not skipped and below the limit.
func (s *Spill) pickIn(t Tier, key string, skip func(*balance.Upstream) bool, perBackend int64) *balance.Upstream {
	if u := t.Selector.Select(t.Backends, key); u != nil && (skip == nil || !skip(u)) && u.TryAcquire(perBackend) {
		return u
	}
	for _, u := range t.Backends {
		if u.Available() && (skip == nil || !skip(u)) && u.TryAcquire(perBackend) {
			return u
		}
	}
	return nil
}

// InFlight is the spilled work in flight now: what the tiers' backends hold (they are this
// listener's own Upstreams, so only spilled work is on them).
func (s *Spill) InFlight() int64 {
	var n int64
	for _, t := range s.o.Tiers {
		for _, u := range t.Backends {
			n += u.InFlight()
		}
	}
	return n
}

// take consumes a token of the rate cap; true without one.
func (s *Spill) take() bool {
	if s.o.Rate <= 0 {
		return true
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.refilled.IsZero() {
		s.tokens = min(float64(s.o.Burst), s.tokens+now.Sub(s.refilled).Seconds()*s.o.Rate)
	}
	s.refilled = now
	if s.tokens < 1 {
		return false
	}
	s.tokens--
	return true
}

func (s *Spill) spilled(tier int, u *balance.Upstream, client string) {
	s.counts[tier].Add(1)
	if c := s.metrics[tier]; c != nil {
		c.Inc()
	}
	now := time.Now()
	s.last.Store(now.UnixNano())
	if n, ok := s.logDue(now); ok {
		s.log.Info("spilled to another region: no own backend available", "to", s.o.Tiers[tier].Pool,
			"backend", u.ID, "client", client, "suppressed", n)
	}
}

func (s *Spill) capped(client, limit string) string {
	if n, ok := s.logDue(time.Now()); ok {
		s.log.Warn("spill refused: cap reached", "limit", limit, "client", client, "suppressed", n,
			"max_conns", s.o.MaxConns, "rate", s.o.Rate)
	}
	return Capped
}

// logDue reports whether a log line may be written now, and how many were held back since
// the last one.
func (s *Spill) logDue(now time.Time) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.lastLog) < s.o.LogEvery {
		s.suppressed++
		return 0, false
	}
	n := s.suppressed
	s.lastLog, s.suppressed = now, 0
	return n, true
}

// Status is a spill as the API shows it.
type Status struct {
	Tiers    []TierStatus
	InFlight int64
	Last     time.Time // the last spill; zero: never
}

// TierStatus is one tier: how many of its backends are available, and how much went to it.
type TierStatus struct {
	Pool      string
	Available int
	Backends  int
	Spilled   uint64
}

// Status is the spill's state now.
func (s *Spill) Status() Status {
	st := Status{InFlight: s.InFlight()}
	if ns := s.last.Load(); ns != 0 {
		st.Last = time.Unix(0, ns)
	}
	for i, t := range s.o.Tiers {
		ts := TierStatus{Pool: t.Pool, Backends: len(t.Backends), Spilled: s.counts[i].Load()}
		for _, u := range t.Backends {
			if u.Available() {
				ts.Available++
			}
		}
		st.Tiers = append(st.Tiers, ts)
	}
	return st
}
