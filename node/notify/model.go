package notify

import (
	"fmt"
	"slices"
	"strings"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns/policy"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/store"
)

// model is what one config says of pools and services, as the notifier derives their states.
type model struct {
	node     string
	targets  map[string]target // endpoint ID → where it is
	pools    []pool            // sorted by name
	services []service         // sorted by name
}

type target struct {
	pool, addr string
	services   []string
}

type pool struct {
	name       string
	minHealthy int
	eps        []policy.Endpoint // only ID, Enabled and AwaitRise are read
	services   []string          // sorted
}

type service struct {
	name      string
	pools     []string
	onAllDown string
}

func newModel(cfg *config.Config) *model {
	m := &model{node: cfg.Server.Node, targets: map[string]target{}}
	users := map[string][]string{} // pool → the services that list it
	for _, z := range cfg.Zones {
		for _, s := range z.Services {
			m.services = append(m.services, service{name: s.Name, pools: s.Pools, onAllDown: s.OnAllDown})
			for _, p := range s.Pools {
				users[p] = append(users[p], s.Name)
			}
		}
	}
	slices.SortFunc(m.services, func(a, b service) int { return strings.Compare(a.name, b.name) })
	for _, cp := range cfg.Pools { // sorted by name
		p := pool{name: cp.Name, minHealthy: cp.MinHealthy, services: slices.Sorted(slices.Values(users[cp.Name]))}
		for _, e := range cp.Endpoints {
			id := cp.EndpointID(e)
			p.eps = append(p.eps, policy.Endpoint{ID: id, Enabled: e.Enabled, AwaitRise: cp.AwaitsRise(e)})
			m.targets[id] = target{pool: cp.Name, addr: e.Addr.String(), services: p.services}
		}
		m.pools = append(m.pools, p)
	}
	return m
}

// states is what a model derives from one View.
type states struct {
	eps      map[string]health.State
	pools    map[string]PoolCounts
	services map[string]ServiceCounts
}

func (c PoolCounts) available() bool { return policy.Eligible(c.MinHealthy, c.Enabled, c.Serving) }

func (c ServiceCounts) available() bool { return c.Available > 0 }

// derive counts every pool's serving endpoints and every service's available pools in v.
// It reads each configured endpoint's state once: O(endpoints), off every hot path.
func (m *model) derive(v *store.View) *states {
	s := &states{eps: make(map[string]health.State, len(m.targets)),
		pools: make(map[string]PoolCounts, len(m.pools)), services: make(map[string]ServiceCounts, len(m.services))}
	for _, p := range m.pools {
		c := PoolCounts{MinHealthy: max(p.minHealthy, 1)}
		for i := range p.eps {
			e := &p.eps[i]
			st := v.State(e.ID)
			s.eps[e.ID] = st
			if !e.Enabled {
				continue
			}
			c.Enabled++
			if policy.Serves(st, e) {
				c.Serving++
			}
		}
		s.pools[p.name] = c
	}
	for _, sv := range m.services {
		c := ServiceCounts{Pools: len(sv.pools), OnAllDown: sv.onAllDown}
		for _, p := range sv.pools {
			if s.pools[p].available() {
				c.Available++
			}
		}
		s.services[sv.name] = c
	}
	return s
}

// changes are the pool and service transitions from prev to next (both derived by m, or
// prev by the model before a reload: a pool or service it did not have is taken as it is,
// without a notification). reloaded names the cause when no endpoint changed.
func (m *model) changes(prev, next *states, v *store.View, reloaded bool) []*Notification {
	var out []*Notification
	at := v.At()
	changedPools := map[string]bool{}
	for _, p := range m.pools {
		was, ok := prev.pools[p.name]
		now := next.pools[p.name]
		if !ok || was.available() == now.available() {
			continue
		}
		changedPools[p.name] = true
		from, to := Available, Unavailable
		if now.available() {
			from, to = to, from
		}
		out = append(out, &Notification{Type: KindPool, Node: m.node, Time: at, From: from, To: to,
			Cause: m.poolCause(p, prev, next, v, reloaded), Pool: p.name, Services: p.services, Counts: now})
	}
	for _, sv := range m.services {
		was, ok := prev.services[sv.name]
		now := next.services[sv.name]
		if !ok || was.available() == now.available() {
			continue
		}
		from, to := Available, AllPoolsDown
		if now.available() {
			from, to = to, from
		}
		var moved []string
		for _, p := range sv.pools {
			if changedPools[p] {
				moved = append(moved, "pool "+p+" "+pick(next.pools[p].available(), Available, Unavailable))
			}
		}
		cause := strings.Join(moved, ", ")
		if cause == "" && reloaded {
			cause = "config reloaded"
		}
		out = append(out, &Notification{Type: KindService, Node: m.node, Time: at, From: from, To: to,
			Cause: cause, Service: sv.name, Pools: sv.pools, Counts: now})
	}
	return out
}

// poolCause names p's endpoints whose state changed, with the store's cause; at most three.
func (m *model) poolCause(p pool, prev, next *states, v *store.View, reloaded bool) string {
	var parts []string
	more := 0
	for _, e := range p.eps {
		was, ok := prev.eps[e.ID]
		if !ok || was == next.eps[e.ID] {
			continue
		}
		if len(parts) == 3 {
			more++
			continue
		}
		s := fmt.Sprintf("%s %s → %s", e.ID, was, next.eps[e.ID])
		if c := v.Target(e.ID).Cause; c != "" {
			s += " (" + c + ")"
		}
		parts = append(parts, s)
	}
	if more > 0 {
		parts = append(parts, fmt.Sprintf("and %d more", more))
	}
	if len(parts) == 0 && reloaded {
		return "config reloaded"
	}
	return strings.Join(parts, "; ")
}

// endpointNote is event e as a notification, or nil when it is not one: a target that is
// no endpoint of the config (a proxy's backend, a pool since removed), or unknown → up (a
// first verdict: the endpoint was served already).
func (m *model) endpointNote(e store.Event) *Notification {
	t, ok := m.targets[e.Target]
	if !ok || e.From == health.Unknown && e.To == health.Up {
		return nil
	}
	return &Notification{Type: KindEndpoint, Node: m.node, Time: e.At.UTC(), From: e.From.String(), To: e.To.String(),
		Cause: e.Cause, Target: e.Target, Endpoint: t.addr, Seq: e.Seq, Pool: t.pool, Services: t.services}
}

func pick[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}
