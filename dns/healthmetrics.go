package dns

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/health"
)

var descEndpointUp = prometheus.NewDesc("meridian_health_endpoint_up",
	"State the policies see per service, pool and endpoint: 1 up, 0 down, -1 unknown (no monitor or not decided yet).",
	[]string{"service", "pool", "endpoint"}, nil)

// endpointUp collects meridian_health_endpoint_up at scrape time from the current snapshot's
// services and the health view, so it follows reloads and never holds a stale series.
type endpointUp struct{ h *Handler }

func (c endpointUp) Describe(ch chan<- *prometheus.Desc) { ch <- descEndpointUp }

func (c endpointUp) Collect(ch chan<- prometheus.Metric) {
	s := c.h.snap.Load()
	if s == nil || s.health == nil {
		return
	}
	hv := s.health()
	for name, svc := range s.services {
		for _, p := range svc.p.Pools {
			for _, e := range p.Endpoints {
				if !e.Enabled {
					continue
				}
				v := -1.0
				switch hv.State(e.ID) {
				case health.Up:
					v = 1
				case health.Down:
					v = 0
				}
				ch <- prometheus.MustNewConstMetric(descEndpointUp, prometheus.GaugeValue, v, name, p.Name, e.Addr.String())
			}
		}
	}
}
