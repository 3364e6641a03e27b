package node

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/cluster"
	"github.com/meridian-gslb/meridian/web"
)

// The node is the API's web.Registry: endpoints registered at run time go to the cluster (and
// come back through its watch, on every node), or, without [cluster], into this node's own
// list (cached in bbolt, with TTLs kept here).

// Register adds address to pool, or renews its registration.
func (n *Node) Register(ctx context.Context, pool string, address netip.Addr, weight uint32, ttl time.Duration) error {
	p, ok := n.Config().Pool(pool)
	if !ok {
		return fmt.Errorf("%w: %q", web.ErrNoPool, pool)
	}
	if i := slices.IndexFunc(p.Endpoints, func(e config.Endpoint) bool { return e.Addr == address }); i >= 0 && !p.Endpoints[i].Dynamic {
		return fmt.Errorf("%w: %s is endpoint %s of pool %s in the file", web.ErrNotDynamic, address, address, pool)
	}
	e := cluster.Endpoint{Pool: pool, Address: address, Weight: weight, TTL: ttl, At: time.Now().UTC(), Node: n.Config().Server.Node}
	isNew := true
	if n.cl != nil {
		var err error
		if isNew, err = n.cl.Register(ctx, e); err != nil {
			return err
		}
	} else {
		isNew = n.setLocal(e)
	}
	if isNew { // renewals, an autoscaler's heartbeat, are not news
		n.log.Info("endpoint registered", "pool", pool, "address", address, "weight", weight, "ttl", ttl)
	}
	return nil
}

// Deregister drains pool's registered endpoint at address now and removes it after the pool's
// drain_timeout. It is refused when the pool would be left with fewer serving endpoints than
// min_healthy, unless force.
func (n *Node) Deregister(ctx context.Context, pool string, address netip.Addr, force bool) (time.Time, error) {
	p, ok := n.Config().Pool(pool)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: %q", web.ErrNoPool, pool)
	}
	i := slices.IndexFunc(p.Endpoints, func(e config.Endpoint) bool { return e.Addr == address })
	switch {
	case i < 0:
		return time.Time{}, fmt.Errorf("%w: %s is not an endpoint of pool %s", web.ErrNoEndpoint, address, pool)
	case !p.Endpoints[i].Dynamic:
		return time.Time{}, fmt.Errorf("%w: %s is in pool %s of the config file; remove it there", web.ErrNotDynamic, address, pool)
	}
	id := p.EndpointID(p.Endpoints[i])
	if !force {
		if left := n.serving(p, id); left < p.MinHealthy {
			return time.Time{}, fmt.Errorf("%w: without %s, pool %s has %d serving endpoint(s), below its min_healthy %d (force to remove it anyway)",
				web.ErrBelowMinHealthy, address, pool, left, p.MinHealthy)
		}
	}
	if err := n.health().SetOverride(id, store.Override{Kind: store.Drain, Who: "deregister", Why: "deregistered: drained, then removed"}); err != nil {
		return time.Time{}, err
	}
	until := time.Now().Add(p.DrainTimeout)
	go n.removeAfter(pool, address, id, p.DrainTimeout)
	return until, nil
}

// removeAfter removes a drained registration once its drain_timeout is over.
func (n *Node) removeAfter(pool string, address netip.Addr, id string, d time.Duration) {
	select {
	case <-n.bg.Done():
		return // the node stops: the endpoint stays drained until someone deregisters it again
	case <-time.After(d):
	}
	var err error
	if n.cl != nil {
		err = n.cl.Deregister(n.bg, pool, address)
	} else {
		n.deleteLocal(cluster.Endpoint{Pool: pool, Address: address}.ID())
	}
	if err == nil {
		err = n.health().ClearOverride(id)
	}
	if err != nil {
		n.log.Error("deregistered endpoint not removed; it stays drained", "pool", pool, "address", address, "err", err)
		return
	}
	n.log.Info("deregistered endpoint removed", "pool", pool, "address", address)
}

// serving counts p's endpoints other than except that take answers now.
func (n *Node) serving(p config.Pool, except string) int {
	v := n.st.View()
	count := 0
	for _, e := range p.Endpoints {
		id := p.EndpointID(e)
		if !e.Enabled || id == except {
			continue
		}
		switch st := v.State(id); {
		case st == health.Up, st == health.Unknown && p.Monitor == "":
			count++
		}
	}
	return count
}

// Endpoints lists pool's endpoints, configured and registered.
func (n *Node) Endpoints(pool string) ([]web.PoolEndpoint, error) {
	p, ok := n.Config().Pool(pool)
	if !ok {
		return nil, fmt.Errorf("%w: %q", web.ErrNoPool, pool)
	}
	n.sh.mu.Lock()
	defer n.sh.mu.Unlock()
	out := []web.PoolEndpoint{}
	for _, e := range p.Endpoints {
		pe := web.PoolEndpoint{Address: e.Addr, Weight: e.Weight, Dynamic: e.Dynamic}
		// Alone, a renewal moves At; in a cluster it renews the lease and At stays the first
		// registration, so only a lone node can say when a registration lapses.
		if r, ok := n.sh.st.Endpoints[p.EndpointID(e)]; ok && e.Dynamic && r.TTL > 0 && n.cl == nil {
			t := r.At.Add(r.TTL)
			pe.Expires = &t
		}
		out = append(out, pe)
	}
	return out, nil
}

// Dynamic says whether target was registered at run time.
func (n *Node) Dynamic(target string) bool {
	n.sh.mu.Lock()
	defer n.sh.mu.Unlock()
	_, ok := n.sh.st.Endpoints[target]
	return ok
}

// setLocal keeps a registration on this node alone, for its TTL; it reports whether it is new.
func (n *Node) setLocal(e cluster.Endpoint) bool {
	key := e.ID()
	n.sh.mu.Lock()
	_, had := n.sh.st.Endpoints[key]
	n.sh.st.Endpoints[key] = e
	n.scheduleExpiry(key, e)
	n.sh.mu.Unlock()
	n.saveShared()
	n.poked()
	return !had
}

func (n *Node) deleteLocal(key string) {
	n.sh.mu.Lock()
	delete(n.sh.st.Endpoints, key)
	if t := n.sh.timers[key]; t != nil {
		t.Stop()
		delete(n.sh.timers, key)
	}
	n.sh.mu.Unlock()
	n.saveShared()
	n.poked()
}

// scheduleExpiry drops e when its TTL lapses without a renewal; n.sh.mu is held.
func (n *Node) scheduleExpiry(key string, e cluster.Endpoint) {
	if n.sh.timers == nil {
		n.sh.timers = map[string]*time.Timer{}
	}
	if t := n.sh.timers[key]; t != nil {
		t.Stop()
		delete(n.sh.timers, key)
	}
	if e.TTL <= 0 {
		return
	}
	at := e.At
	n.sh.timers[key] = time.AfterFunc(time.Until(e.At.Add(e.TTL)), func() {
		n.sh.mu.Lock()
		cur, ok := n.sh.st.Endpoints[key]
		n.sh.mu.Unlock()
		if ok && cur.At.Equal(at) { // not renewed since
			n.log.Info("registration expired", "endpoint", key, "ttl", e.TTL)
			n.deleteLocal(key)
		}
	})
}

// expireLocal arms the TTLs of the registrations a node alone loaded from its cache.
func (n *Node) expireLocal() {
	n.sh.mu.Lock()
	defer n.sh.mu.Unlock()
	for key, e := range n.sh.st.Endpoints {
		n.scheduleExpiry(key, e)
	}
}
