package dns

import (
	"strconv"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	queries   *prometheus.CounterVec   // meridian_dns_queries_total{zone,qtype,rcode,proto}
	duration  *prometheus.HistogramVec // meridian_dns_request_duration_seconds{zone}
	truncated prometheus.Counter       // meridian_dns_truncated_responses_total
	dropped   *prometheus.CounterVec   // meridian_dns_dropped_packets_total{reason}
	limited   *prometheus.CounterVec   // meridian_dns_rate_limited_total{action}
	cached    prometheus.GaugeFunc     // meridian_dns_prepared_answers
	decisions *prometheus.CounterVec   // meridian_policy_decisions_total{service,policy,outcome}
	bound     *prometheus.GaugeVec     // meridian_service_failover_bound_seconds{service}
}

func newMetrics(reg prometheus.Registerer, cacheLen func() float64) *metrics {
	f := promauto.With(reg)
	return &metrics{
		queries: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meridian", Subsystem: "dns", Name: "queries_total",
			Help: "DNS queries answered, by zone (\"none\" outside our zones), query type, response code and transport.",
		}, []string{"zone", "qtype", "rcode", "proto"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "meridian", Subsystem: "dns", Name: "request_duration_seconds",
			Help:    "Time from a query's arrival at the handler to its reply being ready, by zone.",
			Buckets: []float64{1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2},
		}, []string{"zone"}),
		truncated: f.NewCounter(prometheus.CounterOpts{
			Namespace: "meridian", Subsystem: "dns", Name: "truncated_responses_total",
			Help: "UDP replies sent with TC set because the answer did not fit the client's buffer.",
		}),
		limited: f.NewCounterVec(limitedOpts, []string{"action"}),
		dropped: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meridian", Subsystem: "dns", Name: "dropped_packets_total",
			Help: "Packets received and not answered, by reason.",
		}, []string{"reason"}),
		cached: f.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "meridian", Subsystem: "dns", Name: "prepared_answers",
			Help: "Replies prepared for the fast path in the current snapshot.",
		}, cacheLen),
		decisions: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meridian", Subsystem: "policy", Name: "decisions_total",
			Help: "Answers chosen for load-balanced names, by service, policy and outcome (answer, nodata, servfail).",
		}, []string{"service", "policy", "outcome"}),
		bound: f.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "meridian", Subsystem: "service", Name: "failover_bound_seconds",
			Help: "Longest time a failed endpoint can stay in clients' answers: monitor interval × fall + timeout + TTL.",
		}, []string{"service"}),
	}
}

// qtypeLabel keeps the qtype label bounded: known mnemonics, else "other".
func qtypeLabel(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "other"
}

func rcodeLabel(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return strconv.Itoa(rc)
}
