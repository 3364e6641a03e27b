package store

import (
	"github.com/meridian-gslb/meridian/health"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	commitDuration prometheus.Histogram   // meridian_store_commit_duration_seconds
	transitions    *prometheus.CounterVec // meridian_health_transitions_total{to}
	staleReports   prometheus.Gauge       // meridian_health_stale_reports
	expiredReports prometheus.Counter     // meridian_store_expired_reports_total
}

// newMetrics registers the store's metrics, and a collector of meridian_health_target_up over
// the current View, on reg. A nil reg registers nothing.
func newMetrics(reg prometheus.Registerer, s *Store) *metrics {
	f := promauto.With(reg)
	m := &metrics{
		commitDuration: f.NewHistogram(prometheus.HistogramOpts{
			Namespace: "meridian", Subsystem: "store", Name: "commit_duration_seconds",
			Help:    "Time to commit one group of writes to the state file, fsync included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12), // 0.5ms … 1s
		}),
		transitions: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meridian", Subsystem: "health", Name: "transitions_total",
			Help: "Changes of the state policies see, by the state changed to.",
		}, []string{"to"}),
		staleReports: f.NewGauge(prometheus.GaugeOpts{
			Namespace: "meridian", Subsystem: "health", Name: "stale_reports",
			Help: "Prober reports older than 3 intervals, which do not vote.",
		}),
		expiredReports: f.NewCounter(prometheus.CounterOpts{
			Namespace: "meridian", Subsystem: "store", Name: "expired_reports_total",
			Help: "Prober reports deleted because the prober had not reported on the target for longer than the report expiry.",
		}),
	}
	for _, st := range []health.State{health.Unknown, health.Up, health.Down} {
		m.transitions.WithLabelValues(st.String())
	}
	if reg != nil {
		reg.MustRegister(targetUp{s})
	}
	return m
}

var descTargetUp = prometheus.NewDesc("meridian_health_target_up",
	"State policies see per target: 1 up, 0 down, -1 unknown.", []string{"target"}, nil)

// targetUp collects meridian_health_target_up from the View at scrape time. Once rules are
// loaded, targets without a rule or an override are left out.
type targetUp struct{ s *Store }

func (c targetUp) Describe(ch chan<- *prometheus.Desc) { ch <- descTargetUp }

func (c targetUp) Collect(ch chan<- prometheus.Metric) {
	v := c.s.View()
	for _, id := range v.ids {
		e := v.targets.get(id)
		if v.ruled && !e.ts.Ruled && e.ts.Override.Kind == None {
			continue
		}
		val := -1.0
		switch e.ts.State {
		case health.Up:
			val = 1
		case health.Down:
			val = 0
		}
		ch <- prometheus.MustNewConstMetric(descTargetUp, prometheus.GaugeValue, val, id)
	}
}
