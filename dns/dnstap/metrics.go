package dnstap

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Metrics are the dnstap counters, shared by every Tap a process opens (a reload that changes
// the output opens a new one).
type Metrics struct {
	sent    prometheus.Counter // meridian_dnstap_sent_total
	dropped prometheus.Counter // meridian_dnstap_dropped_total
}

// NewMetrics registers the counters on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	return &Metrics{
		sent: f.NewCounter(prometheus.CounterOpts{Namespace: "meridian", Subsystem: "dnstap", Name: "sent_total",
			Help: "dnstap messages written to the output."}),
		dropped: f.NewCounter(prometheus.CounterOpts{Namespace: "meridian", Subsystem: "dnstap", Name: "dropped_total",
			Help: "dnstap messages dropped: the buffer was full (the output is slow or unreachable) or the write failed."}),
	}
}
