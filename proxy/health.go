package proxy

import (
	"cmp"
	"slices"

	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/proxy/balance"
)

// ApplyHealth sets every backend from state: draining when an operator drains it or its
// health is down (no new work; work running finishes up to drain_timeout), unhealthy when
// its health is down. Unknown counts as up: a proxy with no health state yet must serve.
// Backends a later Reload adds get the same state.
func (s *Set) ApplyHealth(state HealthFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.health = state
	for _, l := range s.listeners {
		for _, u := range l.ups {
			applyHealth(u, state)
		}
	}
}

func applyHealth(u *balance.Upstream, state HealthFunc) {
	if state == nil {
		return
	}
	st, override := state(u.ID)
	u.SetHealthy(st != health.Down)
	u.SetDraining(override == "drain" || st == health.Down)
}

// BackendInfo is one backend of one listener as the API shows it.
type BackendInfo struct {
	Listener  string
	ID        string
	Addr      string
	Weight    int
	Available bool // takes new work: healthy, not draining, not ejected
	Healthy   bool
	Draining  bool
	Ejected   bool
	InFlight  int64
	// Spill is the pool this backend belongs to as a spill target of the listener (it takes
	// only what the listener's own backends cannot); "" for the listener's own.
	Spill string
}

// Backends lists every listener's backends, sorted by listener, then ID and address.
func (s *Set) Backends() []BackendInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []BackendInfo
	for _, l := range s.listeners {
		spilled := spillBackends(l.spill)
		for _, u := range l.ups {
			out = append(out, BackendInfo{Listener: l.name, ID: u.ID, Addr: u.Addr, Weight: u.Weight,
				Available: u.Available(), Healthy: u.Healthy(), Draining: u.Draining(), Ejected: u.Ejected(), InFlight: u.InFlight(),
				Spill: spilled[u]})
		}
	}
	slices.SortFunc(out, func(a, b BackendInfo) int {
		return cmp.Or(cmp.Compare(a.Listener, b.Listener), cmp.Compare(a.Spill, b.Spill), cmp.Compare(a.ID, b.ID), cmp.Compare(a.Addr, b.Addr))
	})
	return out
}

// InFlight sums the requests and connections in flight per backend ID over every listener,
// for the GSLB's load feedback.
func (s *Set) InFlight() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int64{}
	for _, l := range s.listeners {
		for _, u := range l.ups {
			out[u.ID] += u.InFlight()
		}
	}
	return out
}
