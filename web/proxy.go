package web

import "net/http"

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
}

// proxy serves GET /api/v1/proxy: every local proxy backend and its state.
func (a *api) proxy(w http.ResponseWriter, _ *http.Request) {
	out := a.proxies()
	if out == nil {
		out = []ProxyBackend{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"backends": out})
}
