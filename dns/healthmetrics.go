package dns

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/dns/policy"
	"github.com/meridian-gslb/meridian/health"
)

// One series per pool and endpoint, not per service too: pools are shared, and 10,000 services
// over 1,000 pools of 100 endpoints made 2.8 million series (a scrape did not finish in 60 s).
var descEndpointUp = prometheus.NewDesc("meridian_health_endpoint_up",
	"State the policies see per pool and endpoint: 1 up, 0 down, -1 unknown (no monitor or not decided yet).",
	[]string{"pool", "endpoint"}, nil)

var (
	descPoolEndpoints = prometheus.NewDesc("meridian_pool_endpoints",
		"Enabled endpoints of a pool (configured and registered).", []string{"pool"}, nil)
	descPoolServing = prometheus.NewDesc("meridian_pool_serving_endpoints",
		"Endpoints of a pool the policies may answer with now (up, or unknown when unmonitored; a registered endpoint once it has risen).",
		[]string{"pool"}, nil)
	descPoolMinHealthy = prometheus.NewDesc("meridian_pool_min_healthy",
		"The pool's min_healthy: below min(min_healthy, endpoints) serving, the pool is skipped.", []string{"pool"}, nil)
	descServiceAllDown = prometheus.NewDesc("meridian_service_all_pools_down",
		"1 when no pool of the service has min_healthy serving endpoints, so its answers follow on_all_down (fail open, servfail or nodata).",
		[]string{"service", "on_all_down"}, nil)
)

// endpointUp collects meridian_health_endpoint_up at scrape time from the current snapshot's
// services and the health view, so it follows reloads and never holds a stale series.
type endpointUp struct{ h *Handler }

func (c endpointUp) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEndpointUp, descPoolEndpoints, descPoolServing, descPoolMinHealthy, descServiceAllDown} {
		ch <- d
	}
}

func (c endpointUp) Collect(ch chan<- prometheus.Metric) {
	s := c.h.snap.Load()
	if s == nil || s.health == nil {
		return
	}
	hv := s.health()
	type poolCount struct{ enabled, serving, min int }
	pools := map[string]poolCount{}
	count := func(p *policy.Pool) poolCount { // each pool once, however many services share it
		if pc, ok := pools[p.Name]; ok {
			return pc
		}
		pc := poolCount{min: max(p.MinHealthy, 1)}
		for _, e := range p.Endpoints {
			if !e.Enabled {
				continue
			}
			st := hv.State(e.ID)
			v := -1.0
			switch st {
			case health.Up:
				v = 1
			case health.Down:
				v = 0
			}
			pc.enabled++
			if policy.Serves(st, &e) {
				pc.serving++
			}
			ch <- prometheus.MustNewConstMetric(descEndpointUp, prometheus.GaugeValue, v, p.Name, e.Addr.String())
		}
		pools[p.Name] = pc
		return pc
	}
	for name, svc := range s.services {
		eligible := false
		for _, p := range svc.p.Pools {
			pc := count(p)
			eligible = eligible || policy.Eligible(pc.min, pc.enabled, pc.serving)
		}
		down := 0.0
		if !eligible {
			down = 1
		}
		ch <- prometheus.MustNewConstMetric(descServiceAllDown, prometheus.GaugeValue, down, name, svc.p.OnAllDown.String())
	}
	for name, pc := range pools {
		ch <- prometheus.MustNewConstMetric(descPoolEndpoints, prometheus.GaugeValue, float64(pc.enabled), name)
		ch <- prometheus.MustNewConstMetric(descPoolServing, prometheus.GaugeValue, float64(pc.serving), name)
		ch <- prometheus.MustNewConstMetric(descPoolMinHealthy, prometheus.GaugeValue, float64(pc.min), name)
	}
}
