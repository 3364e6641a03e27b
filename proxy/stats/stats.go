// Package stats holds the proxy's Prometheus metrics, shared by the L4 and L7 listeners so
// that each name is registered once per process. Every metric is labelled by listener (the
// [proxy.NAME] table) and, where it concerns one, by backend (its ID).
package stats

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the proxy's metric vectors. A nil *Metrics is valid and records nothing, for
// tests and tools that do not export metrics.
type Metrics struct {
	// Requests is L7 requests by listener, backend and status code ("502" when no backend
	// answered, backend "" when none was picked).
	Requests *prometheus.CounterVec
	// Duration is L7 request time, from the request head read to the response's last byte.
	Duration *prometheus.HistogramVec
	// Connections is accepted client connections by listener (L4 and L7).
	Connections *prometheus.CounterVec
	// Active is open client connections by listener.
	Active *prometheus.GaugeVec
	// Ejections counts passive outlier ejections by listener and backend.
	Ejections *prometheus.CounterVec
	// Retries counts L7 requests sent again to another backend, by listener.
	Retries *prometheus.CounterVec
	// Bytes counts payload bytes by listener and direction ("in": from clients, "out": to them).
	Bytes *prometheus.CounterVec
	// Rejected counts refused work by listener and reason (rate_limit, max_conns,
	// backend_max_conns, no_backend, header_too_large, bad_request).
	Rejected *prometheus.CounterVec
	// Spilled counts requests (L7) and connections (L4) sent to another region's pool because
	// none of the listener's own backends could take them, by listener and pool ("to").
	Spilled *prometheus.CounterVec
}

// New registers the proxy metrics with reg (nil: not registered, still counted).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_proxy_requests_total",
			Help: "L7 requests by listener, backend and response status code."}, []string{"listener", "backend", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "meridian_proxy_request_duration_seconds",
			Help:    "L7 request time from the request head to the last byte of the response.",
			Buckets: []float64{.0002, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"listener"}),
		Connections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_proxy_connections_total",
			Help: "Client connections accepted, by listener."}, []string{"listener"}),
		Active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "meridian_proxy_active_connections",
			Help: "Open client connections, by listener."}, []string{"listener"}),
		Ejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_proxy_ejections_total",
			Help: "Backends taken out by passive outlier detection, by listener and backend."}, []string{"listener", "backend"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_proxy_retries_total",
			Help: "Requests retried on another backend after a connect failure, by listener."}, []string{"listener"}),
		Bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_proxy_bytes_total",
			Help: "Payload bytes by listener and direction (in: from clients, out: to clients)."}, []string{"listener", "direction"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_proxy_rejected_total",
			Help: "Requests or connections refused, by listener and reason."}, []string{"listener", "reason"}),
		Spilled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "meridian_proxy_spilled_total",
			Help: "Requests or connections spilled to another region's pool (no own backend could take them), by listener and pool."},
			[]string{"listener", "to"}),
	}
	if reg != nil {
		reg.MustRegister(m.Requests, m.Duration, m.Connections, m.Active, m.Ejections, m.Retries, m.Bytes, m.Rejected, m.Spilled)
	}
	return m
}
