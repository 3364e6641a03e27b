package node

import (
	"context"
	"maps"
	"net/http"
	"strings"
	"sync"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/proxy"
	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/web"
)

// The proxies' health comes from one of three sources, and each pushes: the store's Views (a
// Serve node), the monitors run here (a Proxy node on its own), or a followed node's watch
// stream (a Proxy node with -node). A drained backend is treated as store.View.ProxyState
// says, on the node that decides it; the other sources carry the result.

// storeHealth is v as the proxies read it. A registered endpoint that waits for its first
// probes (awaiting) counts as down until they say up, as it does for DNS answers.
func storeHealth(v *store.View, awaiting map[string]bool) proxy.HealthFunc {
	return func(id string) (health.State, string) {
		st, k := v.ProxyState(id)
		if st == health.Unknown && awaiting[id] {
			st = health.Down
		}
		if k == store.None {
			return st, ""
		}
		return st, k.String()
	}
}

// awaitingRise lists cfg's registered endpoints that are not served before they rise.
func awaitingRise(cfg *config.Config) map[string]bool {
	out := map[string]bool{}
	for _, p := range cfg.Pools {
		for _, e := range p.Endpoints {
			if p.AwaitsRise(e) {
				out[p.EndpointID(e)] = true
			}
		}
	}
	return out
}

// stateHealth is a set of endpoint states (kept: the caller must not change m) as the proxies read it.
func stateHealth(m map[string]web.EndpointState) proxy.HealthFunc {
	return func(id string) (health.State, string) {
		e := m[id]
		return e.State, e.Override
	}
}

// feed applies health to the proxies whenever it changes, until ctx ends.
func (n *Node) feed(ctx context.Context) {
	switch {
	case n.st != nil:
		for {
			reloaded := n.reloaded() // before the config it will tell has changed
			v, cfg := n.st.View(), n.cfg.Load()
			n.proxies.ApplyHealth(storeHealth(v, awaitingRise(cfg)))
			select {
			case <-ctx.Done():
				return
			case <-v.Changed():
			case <-reloaded:
			}
		}
	case n.sink != nil:
		for {
			states, changed := n.sink.snapshot()
			n.proxies.ApplyHealth(stateHealth(states))
			select {
			case <-ctx.Done():
				return
			case <-changed:
			}
		}
	case n.o.Follow != "":
		f := &web.Follower{Base: strings.TrimRight(n.o.Follow, "/"), Client: &http.Client{}, Log: n.log.With("component", "proxy-health")}
		f.Run(ctx, func(m map[string]web.EndpointState) { n.proxies.ApplyHealth(stateHealth(maps.Clone(m))) })
	}
}

// memSink keeps the verdicts of a standalone proxy's monitors: a probe that has not risen or
// fallen yet leaves the state as it was (unknown at first, which serves).
type memSink struct {
	mu      sync.Mutex
	states  map[string]web.EndpointState
	changed chan struct{} // closed at the next change
}

func newMemSink() *memSink {
	return &memSink{states: map[string]web.EndpointState{}, changed: make(chan struct{})}
}

func (m *memSink) Record(_ context.Context, o health.Observation) error {
	if o.Undecided {
		return nil
	}
	st := health.Down
	if o.Up {
		st = health.Up
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.states[o.Target].State != st {
		m.states[o.Target] = web.EndpointState{State: st}
		close(m.changed)
		m.changed = make(chan struct{})
	}
	return nil
}

// snapshot is the states now (a copy) and the channel the next change closes.
func (m *memSink) snapshot() (map[string]web.EndpointState, <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.states), m.changed
}
