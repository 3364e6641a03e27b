package notify

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	deliveries *prometheus.CounterVec // meridian_notify_deliveries_total{notify,result}
	dropped    *prometheus.CounterVec // meridian_notify_dropped_total{notify}
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		deliveries: f.NewCounterVec(prometheus.CounterOpts{Namespace: "meridian", Subsystem: "notify", Name: "deliveries_total",
			Help: "Notifications a webhook was sent, by result: ok (2xx), failed (no 2xx after every retry), rejected (another answer, not retried)."},
			[]string{"notify", "result"}),
		dropped: f.NewCounterVec(prometheus.CounterOpts{Namespace: "meridian", Subsystem: "notify", Name: "dropped_total",
			Help: "Notifications not sent because the webhook's queue was full (its receiver too slow or down)."},
			[]string{"notify"}),
	}
}

// add makes the webhook's series, at 0, so rates and alerts see it before its first delivery.
func (m *metrics) add(name string) {
	for _, r := range []string{resultOK, resultFailed, resultRejected} {
		m.deliveries.WithLabelValues(name, r)
	}
	m.dropped.WithLabelValues(name)
}

// remove drops the series of a webhook the config no longer has.
func (m *metrics) remove(name string) {
	m.deliveries.DeletePartialMatch(prometheus.Labels{"notify": name})
	m.dropped.DeleteLabelValues(name)
}
