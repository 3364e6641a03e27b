package dns

import (
	"slices"
	"strings"
	"sync/atomic"

	"github.com/meridian-gslb/meridian/dns/policy"
)

// ServiceCount is how many queries for one service the running config has answered since it
// was loaded, by the pool (and its region) the answer's first address came from. Outcome is
// "answer" for those; "nodata" and "servfail" counts carry no pool or region.
type ServiceCount struct {
	Service string `json:"service"`
	Pool    string `json:"pool,omitempty"`
	Region  string `json:"region,omitempty"`
	Outcome string `json:"outcome"`
	Count   uint64 `json:"count"`
}

// answerCounts are a service's plain counters of answered queries: answers[i] for the pool
// svc.p.Pools[i], answers[len(Pools)] for the fallback pool (or a pool not found).
type answerCounts struct {
	answers  []atomic.Uint64
	nodata   atomic.Uint64
	servfail atomic.Uint64
}

// count adds one answered query with decision d. The pools are few: a scan by name, no
// allocation.
func (s *service) count(d *policy.Decision) {
	switch d.Outcome {
	case policy.Answer:
		i := len(s.counts.answers) - 1
		if len(d.Pools) > 0 {
			first := d.Pools[0]
			for j, p := range s.p.Pools {
				if p != nil && p.Name == first {
					i = j
					break
				}
			}
		}
		s.counts.answers[i].Add(1)
	case policy.NoData:
		s.counts.nodata.Add(1)
	case policy.ServFail:
		s.counts.servfail.Add(1)
	}
}

// AnswerCounts returns the cumulative answer counts of every service of the running config,
// sorted by service. A reload starts them again from zero.
func (h *Handler) AnswerCounts() []ServiceCount {
	s := h.snap.Load()
	var out []ServiceCount
	for name, svc := range s.services {
		for i := range svc.counts.answers {
			var pool *policy.Pool
			if i < len(svc.p.Pools) {
				pool = svc.p.Pools[i]
			} else {
				pool = svc.p.Fallback
			}
			c := ServiceCount{Service: name, Outcome: policy.Answer.String(), Count: svc.counts.answers[i].Load()}
			if pool != nil {
				c.Pool = pool.Name
				if pool.Region != nil {
					c.Region = pool.Region.Name
				}
			}
			if pool == nil && c.Count == 0 {
				continue
			}
			out = append(out, c)
		}
		out = append(out,
			ServiceCount{Service: name, Outcome: policy.NoData.String(), Count: svc.counts.nodata.Load()},
			ServiceCount{Service: name, Outcome: policy.ServFail.String(), Count: svc.counts.servfail.Load()})
	}
	slices.SortStableFunc(out, func(a, b ServiceCount) int { return strings.Compare(a.Service, b.Service) })
	return out
}
