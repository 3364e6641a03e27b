package peer

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Reasons in the peer metrics' reason label.
const (
	reasonUnknownTarget = "unknown_target"
	reasonUnauthorized  = "unauthorized"
	reasonReplayed      = "replayed"
	reasonCacheFull     = "replay_cache_full"
)

type metrics struct {
	rejectedObs   *prometheus.CounterVec // meridian_peer_rejected_observations_total{reason}
	rejectedLoads *prometheus.CounterVec // meridian_peer_rejected_loads_total{reason}
	refused       *prometheus.CounterVec // meridian_peer_refused_requests_total{reason}
}

// newMetrics builds the receiver's metrics, registered on reg unless it is nil.
func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		rejectedObs: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meridian", Subsystem: "peer", Name: "rejected_observations_total",
			Help: "Observations in signed batches from remote probers that were not recorded, by reason (unknown_target: not a target of the node's config).",
		}, []string{"reason"}),
		rejectedLoads: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meridian", Subsystem: "peer", Name: "rejected_loads_total",
			Help: "Backend loads in signed reports from remote proxies that were not recorded, by reason (unknown_target: not a target of the node's config).",
		}, []string{"reason"}),
		refused: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meridian", Subsystem: "peer", Name: "refused_requests_total",
			Help: "Peer API requests refused before their body was read as a batch or report, by reason.",
		}, []string{"reason"}),
	}
	m.rejectedObs.WithLabelValues(reasonUnknownTarget)
	m.rejectedLoads.WithLabelValues(reasonUnknownTarget)
	for _, r := range []string{reasonUnauthorized, reasonReplayed, reasonCacheFull} {
		m.refused.WithLabelValues(r)
	}
	return m
}
