package dns

import (
	"maps"
	"slices"
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

// answerRow is one counter of a service's answers: for the pool of that name and region
// (both empty: an address in none of its pools).
type answerRow struct {
	service, pool, region string
	n                     *atomic.Uint64
}

// answerTable is every answer counter of one config, by service, then the service's order.
type answerTable struct {
	gen  uint64
	rows []answerRow
}

// AppendAnswerCounts appends the cumulative "answer" counts of every service to dst, one per
// pool as AnswerCounts has them (NODATA and SERVFAIL left out), and returns the generation of
// the rows: while it stays the same, so do the rows and their order, and the counts only
// grow. A sampler polling it every second allocates nothing, sorts nothing and keys nothing
// by name but after a reload. (The web sampler took 12% of a core this way at 10,000
// services.)
func (h *Handler) AppendAnswerCounts(dst []ServiceCount) (uint64, []ServiceCount) {
	t := h.answerTable(h.snap.Load())
	answer := policy.Answer.String()
	for _, r := range t.rows {
		dst = append(dst, ServiceCount{Service: r.service, Pool: r.pool, Region: r.region, Outcome: answer, Count: r.n.Load()})
	}
	return t.gen, dst
}

// answerTable is s's table, built on first use.
func (h *Handler) answerTable(s *snapshot) *answerTable {
	if t := s.answerRows.Load(); t != nil {
		return t
	}
	t := &answerTable{gen: h.tables.Add(1), rows: buildAnswerRows(s.services)}
	if !s.answerRows.CompareAndSwap(nil, t) {
		return s.answerRows.Load()
	}
	return t
}

func buildAnswerRows(services map[string]*service) []answerRow {
	names := slices.Sorted(maps.Keys(services))
	var rows []answerRow
	for _, name := range names {
		svc := services[name]
		for i := range svc.counts.answers {
			r := answerRow{service: name, n: &svc.counts.answers[i]}
			pool := svc.p.Fallback
			if i < len(svc.p.Pools) {
				pool = svc.p.Pools[i]
			}
			if pool != nil {
				r.pool = pool.Name
				if pool.Region != nil {
					r.region = pool.Region.Name
				}
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// AnswerCounts returns the cumulative answer counts of every service of the running config,
// sorted by service: its answer rows (AppendAnswerCounts' own, but for a count of 0 in none of
// its pools), then NODATA and SERVFAIL. A reload starts them again from zero.
func (h *Handler) AnswerCounts() []ServiceCount {
	s := h.snap.Load()
	rows := h.answerTable(s).rows
	answer := policy.Answer.String()
	var out []ServiceCount
	for i, r := range rows {
		if c := r.n.Load(); r.pool != "" || c > 0 {
			out = append(out, ServiceCount{Service: r.service, Pool: r.pool, Region: r.region, Outcome: answer, Count: c})
		}
		if i+1 == len(rows) || rows[i+1].service != r.service { // the service's last row
			svc := s.services[r.service]
			out = append(out,
				ServiceCount{Service: r.service, Outcome: policy.NoData.String(), Count: svc.counts.nodata.Load()},
				ServiceCount{Service: r.service, Outcome: policy.ServFail.String(), Count: svc.counts.servfail.Load()})
		}
	}
	return out
}
