package proxy

import (
	"fmt"
	"net/netip"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/proxy/balance"
	"github.com/meridian-gslb/meridian/proxy/l7"
)

// upstreams builds the backends of one listener from a config, reusing the Upstreams of old
// (the running listener's) that have the same ID, address and weight: a reload then keeps
// their in-flight counts, health and ejections. A changed weight makes a new Upstream, since
// selectors read Weight without synchronisation.
type upstreams struct {
	name string
	old  map[string]*balance.Upstream
	next map[string]*balance.Upstream
}

func newUpstreams(name string, old map[string]*balance.Upstream) *upstreams {
	return &upstreams{name: name, old: old, next: map[string]*balance.Upstream{}}
}

func (b *upstreams) get(id, addr string, weight int) *balance.Upstream {
	return b.getKey(fmt.Sprintf("%s %s %d", id, addr, weight), id, addr, weight)
}

func (b *upstreams) getKey(key, id, addr string, weight int) *balance.Upstream {
	if u := b.next[key]; u != nil {
		return u
	}
	u := b.old[key]
	if u == nil {
		u = balance.NewUpstream(addr, weight)
		u.ID = id
	}
	b.next[key] = u
	return u
}

// source returns the backends of a pool at port, or of an explicit list.
func (b *upstreams) source(cfg *config.Config, pool string, port uint16, explicit []config.ProxyBackend) ([]*balance.Upstream, error) {
	var out []*balance.Upstream
	if pool != "" {
		p, ok := cfg.Pool(pool)
		if !ok {
			return nil, fmt.Errorf("pool %q is not defined", pool)
		}
		for _, e := range p.Endpoints {
			if !e.Enabled {
				continue
			}
			out = append(out, b.get(p.EndpointID(e), netip.AddrPortFrom(e.Addr, port).String(), int(e.Weight)))
		}
		return out, nil
	}
	for _, e := range explicit {
		out = append(out, b.get(ExplicitID(b.name, e.Addr), e.Addr.String(), e.Weight))
	}
	return out, nil
}

// ExplicitID is the ID of a backend listed in [proxy.NAME] backends (or a route's): health,
// overrides and the API know it by this name.
func ExplicitID(listener string, addr netip.AddrPort) string {
	return config.BackendTarget(listener, addr).String()
}

// tcpBackends are a tcp listener's backends and selector.
func (b *upstreams) tcpBackends(cfg *config.Config, pc config.Proxy) ([]*balance.Upstream, balance.Selector, error) {
	ups, err := b.source(cfg, pc.Pool, pc.Port, pc.Backends)
	if err != nil {
		return nil, nil, err
	}
	sel, err := balance.New(pc.Algorithm)
	if err != nil {
		return nil, nil, err
	}
	return ups, sel, nil
}

// routes are an http listener's routes, its own backends last as the default route.
func (b *upstreams) routes(cfg *config.Config, pc config.Proxy) ([]*l7.Route, error) {
	var sticky *l7.Sticky
	if pc.Sticky != nil {
		sticky = &l7.Sticky{Cookie: pc.Sticky.Cookie, TTL: pc.Sticky.TTL}
	}
	all := append(append([]config.ProxyRoute(nil), pc.Routes...), config.ProxyRoute{
		Pool: pc.Pool, Port: pc.Port, Backends: pc.Backends, Algorithm: pc.Algorithm, HashKey: pc.HashKey,
	})
	var out []*l7.Route
	for i, rc := range all {
		ups, err := b.source(cfg, rc.Pool, rc.Port, rc.Backends)
		if err != nil {
			return nil, fmt.Errorf("route %d: %w", i, err)
		}
		sel, err := balance.New(rc.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("route %d: %w", i, err)
		}
		out = append(out, &l7.Route{Host: rc.Host, Path: rc.Path, Header: rc.Header, Percent: rc.Percent,
			Backends: ups, Selector: sel, HashKey: rc.HashKey, Sticky: sticky})
	}
	return out, nil
}
