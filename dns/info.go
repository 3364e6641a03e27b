package dns

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/meridian-gslb/meridian/dns/policy"
	"github.com/meridian-gslb/meridian/health"
)

// ServiceInfo describes one load-balanced name as it is served now, for the API and dashboard.
type ServiceInfo struct {
	Name        string     `json:"name"`
	Zone        string     `json:"zone"`
	Policy      string     `json:"policy"`
	Select      string     `json:"select"`
	Answers     int        `json:"answers"`
	TTL         uint32     `json:"ttl"`
	DegradedTTL uint32     `json:"degraded_ttl"`
	OnAllDown   string     `json:"on_all_down"`
	Fallback    string     `json:"fallback,omitempty"`
	Pools       []PoolInfo `json:"pools"`
	// FailoverBound is the longest time, in seconds, a failed endpoint can stay in clients'
	// answers (0 without a monitor), and How says how it is made.
	FailoverBound float64 `json:"failover_bound_seconds"`
	How           string  `json:"failover_bound"`
	// ProxyFailoverBound is the bound for clients through the regions' proxies, when pools
	// front them (detection only: the proxies spill), and ProxyHow how it is made; Spilling
	// lists the pools whose region is served by spill now.
	ProxyFailoverBound float64  `json:"proxy_failover_bound_seconds,omitempty"`
	ProxyHow           string   `json:"proxy_failover_bound,omitempty"`
	Spilling           []string `json:"spilling,omitempty"`
}

// PoolInfo is one pool of a service, in the service's configured order.
type PoolInfo struct {
	Name       string         `json:"name"`
	Region     string         `json:"region"`
	MinHealthy int            `json:"min_healthy"`
	Endpoints  []EndpointInfo `json:"endpoints"`
}

// EndpointInfo is one endpoint with the state the policies see for it now.
type EndpointInfo struct {
	ID      string     `json:"id"`
	Address netip.Addr `json:"address"`
	Weight  uint32     `json:"weight"`
	Enabled bool       `json:"enabled"`
	State   string     `json:"state"`             // up, down, unknown
	Dynamic bool       `json:"dynamic,omitempty"` // registered at run time
}

// Services lists the load-balanced names of the running config, sorted by name.
func (h *Handler) Services() []ServiceInfo {
	s := h.snap.Load()
	var hv policy.HealthView // one View for the whole listing
	if s.health != nil {
		hv = s.health()
	}
	out := make([]ServiceInfo, 0, len(s.services))
	for name, svc := range s.services {
		si := ServiceInfo{
			Name: name, Policy: svc.p.Order.String(), Select: svc.p.Select.String(), Answers: svc.p.Answers,
			TTL: svc.ttl, DegradedTTL: svc.degraded, OnAllDown: svc.p.OnAllDown.String(),
			FailoverBound: svc.bound.Seconds(), How: svc.boundText,
			ProxyFailoverBound: svc.proxyBound.Seconds(), ProxyHow: svc.proxyBoundText, Spilling: svc.spilling(hv),
		}
		if z := s.zones.Find(name); z != nil {
			si.Zone = z.Origin
		}
		if svc.p.Fallback != nil {
			si.Fallback = svc.p.Fallback.Name
		}
		for _, p := range svc.p.Pools {
			pi := PoolInfo{Name: p.Name, MinHealthy: p.MinHealthy, Endpoints: []EndpointInfo{}}
			if p.Region != nil {
				pi.Region = p.Region.Name
			}
			for _, e := range p.Endpoints {
				st := health.Unknown
				if hv != nil {
					st = hv.State(e.ID)
				}
				pi.Endpoints = append(pi.Endpoints, EndpointInfo{ID: e.ID, Address: e.Addr, Weight: e.Weight, Enabled: e.Enabled, State: st.String(), Dynamic: e.Dynamic})
			}
			si.Pools = append(si.Pools, pi)
		}
		out = append(out, si)
	}
	slices.SortFunc(out, func(a, b ServiceInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}
