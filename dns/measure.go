package dns

import (
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/dns/policy"
)

// Measurements is what the proxies report to this node (store.Measurements is one): client
// RTTs per /24 or /48 prefix and region, and backends' in-flight loads, each while fresh.
type Measurements interface {
	ClientRTT(client netip.Addr, region string) (time.Duration, bool)
	// DescribeRTT says where ClientRTT's answer comes from, for explain; "" when none.
	DescribeRTT(client netip.Addr, region string) string
	InFlight(endpointID string) (int64, bool)
}

// Prefix lengths proxies measure clients by (proxy/feedback aggregates per /24 and /48).
const (
	measuredBits4 = 24
	measuredBits6 = 48
)

// rttSource is the latency policy's source of RTTs: a fresh proxy measurement for the client's
// prefix and the region wins over the configured latency table.
type rttSource struct {
	table    *policy.LatencyTable // may be nil
	measured Measurements         // may be nil
}

func newRTTSource(t *policy.LatencyTable, m Measurements) *rttSource {
	if t == nil && m == nil {
		return nil
	}
	return &rttSource{table: t, measured: m}
}

// RTT implements policy.LatencySource.
func (s *rttSource) RTT(c policy.Client, region string) (time.Duration, bool) {
	if s.measured != nil {
		if rtt, ok := s.measured.ClientRTT(c.Addr, region); ok {
			return rtt, true
		}
	}
	return s.table.RTT(c, region)
}

// ExplainRTT implements policy.RTTExplainer.
func (s *rttSource) ExplainRTT(c policy.Client, region string) string {
	if s.measured != nil {
		if d := s.measured.DescribeRTT(c.Addr, region); d != "" {
			return d
		}
	}
	if _, ok := s.table.RTT(c, region); ok {
		return "latency table"
	}
	return ""
}

// finestBits is the longest prefix at which a latency answer for a can change: the table's
// finest CIDR, or the prefix proxies measure by when they report here. An ECS scope for such
// an answer is never wider.
func (s *rttSource) finestBits(a netip.Addr) int {
	if s == nil {
		return 0
	}
	bits := s.table.FinestBits(a)
	if s.measured != nil {
		if a.Unmap().Is4() {
			bits = max(bits, measuredBits4)
		} else {
			bits = max(bits, measuredBits6)
		}
	}
	return bits
}

var descFullEndpoints = prometheus.NewDesc("meridian_policy_full_endpoints",
	"Endpoints whose proxies report at least their pool's max_inflight requests in flight, so DNS answers spill past them; by pool.",
	[]string{"pool"}, nil)

// fullEndpoints collects meridian_policy_full_endpoints at scrape time from the current
// snapshot's pools that have a max_inflight.
type fullEndpoints struct{ h *Handler }

func (c fullEndpoints) Describe(ch chan<- *prometheus.Desc) { ch <- descFullEndpoints }

func (c fullEndpoints) Collect(ch chan<- prometheus.Metric) {
	s := c.h.snap.Load()
	if s == nil || s.load == nil {
		return
	}
	seen := map[*policy.Pool]bool{}
	for _, svc := range s.services {
		for _, p := range svc.p.Pools {
			if p == nil || p.MaxInFlight <= 0 || seen[p] {
				continue
			}
			seen[p] = true
			n := 0
			for _, e := range p.Endpoints {
				if f, ok := s.load.InFlight(e.ID); e.Enabled && ok && f >= int64(p.MaxInFlight) {
					n++
				}
			}
			ch <- prometheus.MustNewConstMetric(descFullEndpoints, prometheus.GaugeValue, float64(n), p.Name)
		}
	}
}
