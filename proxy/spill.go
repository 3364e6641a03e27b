package proxy

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/proxy/balance"
	"github.com/meridian-gslb/meridian/proxy/spill"
)

// newSpill builds listener pc's spill over the pools it names, nil when it has none. Their
// backends are Upstreams of their own (keyed apart from any route's), with the pools' endpoint
// IDs, so ApplyHealth gives them the health the DNS sees and only spilled work counts on them.
func (s *Set) newSpill(b *upstreams, cfg *config.Config, pc config.Proxy) (*spill.Spill, error) {
	if len(pc.Spill) == 0 {
		return nil, nil
	}
	var tiers []spill.Tier
	for _, t := range pc.Spill {
		p, ok := cfg.Pool(t.Pool)
		if !ok {
			return nil, fmt.Errorf("spill: pool %q is not defined", t.Pool)
		}
		sel, err := balance.New(pc.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("spill: %w", err)
		}
		tier := spill.Tier{Pool: t.Pool, Selector: sel}
		for _, e := range p.Endpoints {
			if !e.Enabled {
				continue
			}
			id, addr := p.EndpointID(e), netip.AddrPortFrom(e.Addr, t.Port).String()
			tier.Backends = append(tier.Backends, b.getKey(fmt.Sprintf("spill %s %s %d", id, addr, e.Weight), id, addr, int(e.Weight)))
		}
		tiers = append(tiers, tier)
	}
	o := spill.Options{Listener: pc.Name, Tiers: tiers, MaxConns: pc.SpillMaxConns, Rate: pc.SpillRate, Logger: s.o.Logger}
	if s.met != nil {
		o.Spilled = s.met.Spilled
	}
	return spill.New(o), nil
}

// SpillInfo is one listener's spill as the API shows it.
type SpillInfo struct {
	Listener string
	// Spilling: none of the listener's own backends takes new work, so what it gets goes to
	// the first tier with an available backend.
	Spilling bool
	Tiers    []spill.TierStatus
	InFlight int64
	MaxConns int64
	Rate     float64
	Last     time.Time // the last request or connection spilled; zero: never
}

// Spills lists the listeners that spill, in listener order.
func (s *Set) Spills() []SpillInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SpillInfo
	for _, l := range s.listeners {
		if l.spill == nil {
			continue
		}
		st := l.spill.Status()
		info := SpillInfo{Listener: l.name, Tiers: st.Tiers, InFlight: st.InFlight, MaxConns: l.cfg.SpillMaxConns,
			Rate: l.cfg.SpillRate, Last: st.Last, Spilling: true}
		spilled := spillBackends(l.spill)
		for _, u := range l.ups {
			if _, isSpill := spilled[u]; !isSpill && u.Available() {
				info.Spilling = false
				break
			}
		}
		out = append(out, info)
	}
	return out
}

// spillBackends are the Upstreams of sp's tiers, with their tier's pool.
func spillBackends(sp *spill.Spill) map[*balance.Upstream]string {
	out := map[*balance.Upstream]string{}
	if sp == nil {
		return out
	}
	for _, t := range sp.Tiers() {
		for _, u := range t.Backends {
			out[u] = t.Pool
		}
	}
	return out
}
