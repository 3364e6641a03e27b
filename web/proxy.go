package web

import (
	"net/http"
	"time"
)

// ProxyBackend is one backend of one local proxy listener, as GET /api/v1/proxy shows it.
type ProxyBackend struct {
	Listener string `json:"listener"`
	ID       string `json:"id"` // the endpoint ID ("pool/address"), or "proxy/NAME/host:port"
	Addr     string `json:"addr"`
	Weight   int    `json:"weight"`
	// Available: it takes new work (healthy, not draining, not ejected).
	Available bool  `json:"available"`
	Healthy   bool  `json:"healthy"`
	Draining  bool  `json:"draining"`
	Ejected   bool  `json:"ejected"`
	InFlight  int64 `json:"in_flight"`
	// Spill is the pool this backend is a spill target of (another region's); "" for the
	// listener's own backends.
	Spill string `json:"spill,omitempty"`
}

// ProxySpill is one local listener that spills across regions, as GET /api/v1/proxy shows it.
type ProxySpill struct {
	Listener string `json:"listener"`
	// Spilling: none of the listener's own backends takes new work, so the region is served
	// by spill to the first of Tiers with an available backend.
	Spilling bool             `json:"spilling"`
	Tiers    []ProxySpillTier `json:"tiers"`
	InFlight int64            `json:"in_flight"`
	MaxConns int64            `json:"max_conns"` // spill_max_conns; 0: no cap
	Rate     float64          `json:"rate"`      // spill_rate per second; 0: no cap
	Last     *time.Time       `json:"last_spilled,omitempty"`
}

// ProxySpillTier is one pool of a listener's spill order.
type ProxySpillTier struct {
	Pool      string `json:"pool"`
	Available int    `json:"available"` // backends taking new work
	Backends  int    `json:"backends"`
	Spilled   uint64 `json:"spilled"` // requests (http) or connections (tcp) sent to it
}

// proxy serves GET /api/v1/proxy: every local proxy backend and its state, and the listeners
// that spill.
func (a *api) proxy(w http.ResponseWriter, _ *http.Request) {
	out := a.proxies()
	if out == nil {
		out = []ProxyBackend{}
	}
	spills := []ProxySpill{}
	if a.spills != nil {
		spills = append(spills, a.spills()...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"backends": out, "spill": spills})
}
