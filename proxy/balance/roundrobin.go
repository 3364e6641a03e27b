package balance

import (
	"sync"
	"sync/atomic"
)

// RoundRobin cycles through the available upstreams, ignoring weights. The zero value is ready.
type RoundRobin struct {
	next atomic.Uint64
}

func (r *RoundRobin) Select(pool []*Upstream, _ string) *Upstream {
	n := countAvailable(pool)
	if n == 0 {
		return nil
	}
	i := (r.next.Add(1) - 1) % uint64(n)
	return nthAvailable(pool, int(i))
}

// WeightedRoundRobin is nginx's smooth weighted round robin. The zero value is ready.
//
// Its per-upstream current weights are kept by pointer, so upstreams that become unavailable
// simply sit out and the others keep their place; entries for upstreams that leave the pool
// are dropped when the pool shrinks.
type WeightedRoundRobin struct {
	mu      sync.Mutex
	gen     uint64
	current map[*Upstream]wrrState
}

type wrrState struct {
	current int
	gen     uint64 // last Select that saw the upstream in the pool
}

func (w *WeightedRoundRobin) Select(pool []*Upstream, _ string) *Upstream {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.current == nil {
		w.current = make(map[*Upstream]wrrState, len(pool))
	}
	w.gen++
	var (
		best    *Upstream
		bestCur int
		total   int
	)
	for _, u := range pool {
		s := w.current[u]
		s.gen = w.gen
		if u.Available() {
			wt := u.weight()
			s.current += wt
			total += wt
			if best == nil || s.current > bestCur {
				best, bestCur = u, s.current
			}
		}
		w.current[u] = s
	}
	if best != nil {
		s := w.current[best]
		s.current -= total
		w.current[best] = s
	}
	if len(w.current) > len(pool) { // some upstream left the pool
		for u, s := range w.current {
			if s.gen != w.gen {
				delete(w.current, u)
			}
		}
	}
	return best
}
