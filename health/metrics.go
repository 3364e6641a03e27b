package health

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// metrics are the Scheduler's. Label values are monitor kinds and configured target IDs.
type metrics struct {
	probes   *prometheus.CounterVec   // meridian_health_probes_total{kind,result}
	duration *prometheus.HistogramVec // meridian_health_probe_duration_seconds{kind}
	lag      prometheus.Histogram     // meridian_health_schedule_lag_seconds
	skipped  prometheus.Counter       // meridian_health_skipped_probes_total
	certExp  *prometheus.GaugeVec     // meridian_health_tls_cert_expiry_timestamp_seconds{target}
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg) // nil: the metrics work but are registered nowhere
	return &metrics{
		probes: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meridian", Subsystem: "health", Name: "probes_total",
			Help: "Probes run, by monitor kind and result (ok or fail).",
		}, []string{"kind", "result"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "meridian", Subsystem: "health", Name: "probe_duration_seconds",
			Help:    "How long one probe took, by monitor kind.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"kind"}),
		lag: f.NewHistogram(prometheus.HistogramOpts{
			Namespace: "meridian", Subsystem: "health", Name: "schedule_lag_seconds",
			Help:    "How late a probe started after its scheduled time, waiting for a free slot included.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		skipped: f.NewCounter(prometheus.CounterOpts{
			Namespace: "meridian", Subsystem: "health", Name: "skipped_probes_total",
			Help: "Scheduled probes not run because the previous probe of the target overran their slot.",
		}),
		certExp: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "meridian", Subsystem: "health", Name: "tls_cert_expiry_timestamp_seconds",
			Help: "NotAfter of the certificate an https target presented at its latest probe, as a Unix time.",
		}, []string{"target"}),
	}
}

// kindMetrics are one kind's series, looked up once per target rather than once per probe.
type kindMetrics struct {
	ok, fail prometheus.Counter
	duration prometheus.Observer
}

func (m *metrics) forKind(kind string) kindMetrics {
	return kindMetrics{
		ok:       m.probes.WithLabelValues(kind, "ok"),
		fail:     m.probes.WithLabelValues(kind, "fail"),
		duration: m.duration.WithLabelValues(kind),
	}
}
