package web

import (
	"net/http"
	"sync"
	"time"

	"github.com/meridian-gslb/meridian/dns"
)

// CountSource gives cumulative answer counts; *dns.Handler is one. When API.Services is one
// too, the server samples it every statsInterval for /api/v1/stats and the stream.
type CountSource interface {
	// AppendAnswerCounts appends the "answer" counts, one per service and pool, to dst; while
	// gen stays the same so do the rows and their order (dns.Handler.AppendAnswerCounts).
	AppendAnswerCounts(dst []dns.ServiceCount) (gen uint64, out []dns.ServiceCount)
}

const (
	statsInterval = time.Second
	statsPoints   = 300 // rates kept per series: five minutes
)

// series is a ring of the last statsPoints rates. Its points are allocated at the first rate
// that is not 0, so that a service nobody asks for costs a few words: at the design's 10,000
// services, each with a series per region of its pools, whole rings took ~100 MB.
type series struct {
	vals *[statsPoints]float32 // nil while every point held is 0
	n    int                   // points held
	next int                   // where the next point goes
}

func (s *series) push(v float64) {
	if v != 0 && s.vals == nil {
		s.vals = new([statsPoints]float32)
	}
	if s.vals != nil {
		s.vals[s.next] = float32(v)
	}
	s.next = (s.next + 1) % statsPoints
	s.n = min(s.n+1, statsPoints)
}

// last returns up to k points, oldest first.
func (s *series) last(k int) []float64 {
	k = min(k, s.n)
	out := make([]float64, k)
	if s.vals == nil {
		return out
	}
	for i := range k {
		out[i] = float64(s.vals[(s.next-k+i+statsPoints)%statsPoints])
	}
	return out
}

// sampler turns cumulative counts into per-second answer rates per service and per region.
// The rows of one generation keep their order, so a sample is a pass over slices: the rows'
// series are looked up by name only when the generation changes (a reload).
type sampler struct {
	src CountSource

	mu       sync.Mutex
	rows     []dns.ServiceCount // the latest sample's counts
	gen      uint64             // their generation
	prev     []uint64           // the previous sample's counts, by row; nil before the first
	plan     samplePlan         // where each row's answers go, for gen
	last     time.Time          // of the previous sample; zero before the first
	seq      uint64             // points taken
	services map[string]*series
	regions  map[string]*series
	byRegion map[[2]string]*series // service, region: each service's answer distribution

	sampled *signal // fired after each new point: the streams send it
}

// samplePlan sends each row's answers to its series: svc[i] is row i's service's index in
// sums (every row has one), reg[i] and by[i] its region's and its (service, region)'s, or -1.
type samplePlan struct {
	svc, reg, by []int32
	series       []*series // one per sum
	sums         []uint64  // answers since the previous sample, per series
}

func newSampler(src CountSource) *sampler {
	return &sampler{src: src, services: map[string]*series{}, regions: map[string]*series{}, byRegion: map[[2]string]*series{},
		sampled: newSignal()}
}

// run samples every statsInterval until stop is closed.
func (s *sampler) run(stop <-chan struct{}) {
	t := time.NewTicker(statsInterval)
	defer t.Stop()
	s.sample(time.Now())
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			s.sample(now)
		}
	}
}

// sample reads the counts at now and, after the first call, adds a point to every series:
// the answers since the previous sample divided by the seconds between them. A count lower
// than before, or from a new generation (a reload starts counting again), counts from zero.
func (s *sampler) sample(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gen, rows := s.src.AppendAnswerCounts(s.rows[:0])
	s.rows = rows
	same := gen == s.gen && len(s.prev) == len(rows)
	if !same {
		s.gen = gen
		s.replan()
	}
	sums := s.plan.sums
	clear(sums)
	for i, c := range rows {
		d := c.Count
		if same && s.prev[i] <= d {
			d -= s.prev[i]
		}
		sums[s.plan.svc[i]] += d
		if j := s.plan.reg[i]; j >= 0 {
			sums[j] += d
			sums[s.plan.by[i]] += d
		}
	}
	s.prev = s.prev[:0]
	for _, c := range rows {
		s.prev = append(s.prev, c.Count)
	}
	first := s.last.IsZero()
	elapsed := now.Sub(s.last).Seconds()
	s.last = now
	if first || elapsed <= 0 {
		return
	}
	for j, ser := range s.plan.series {
		ser.push(float64(sums[j]) / elapsed)
	}
	s.seq++
	s.sampled.Fire()
}

// replan maps the rows of a new generation to their series: series whose name is still there
// keep their points, those gone from the config are dropped, new ones start empty.
func (s *sampler) replan() {
	p := samplePlan{svc: make([]int32, len(s.rows)), reg: make([]int32, len(s.rows)), by: make([]int32, len(s.rows))}
	index := map[*series]int32{}
	slot := func(ser *series) int32 {
		if j, ok := index[ser]; ok {
			return j
		}
		j := int32(len(p.series))
		index[ser] = j
		p.series = append(p.series, ser)
		return j
	}
	svcs, regs, bys := map[string]*series{}, map[string]*series{}, map[[2]string]*series{}
	for i, c := range s.rows {
		p.svc[i] = slot(keep(s.services, svcs, c.Service))
		p.reg[i], p.by[i] = -1, -1
		if c.Region != "" {
			p.reg[i] = slot(keep(s.regions, regs, c.Region))
			p.by[i] = slot(keep(s.byRegion, bys, [2]string{c.Service, c.Region}))
		}
	}
	p.sums = make([]uint64, len(p.series))
	s.plan, s.services, s.regions, s.byRegion = p, svcs, regs, bys
}

// keep returns name's series in next, putting it there from old (or a new one) the first time.
func keep[K comparable](old, next map[K]*series, name K) *series {
	if ser := next[name]; ser != nil {
		return ser
	}
	ser := old[name]
	if ser == nil {
		ser = &series{}
	}
	next[name] = ser
	return ser
}

// statsJSON is GET /api/v1/stats and the stream's stats event.
type statsJSON struct {
	Interval float64              `json:"interval_seconds"`
	Services map[string][]float64 `json:"services"`
	Regions  map[string][]float64 `json:"regions"`
	// ServiceRegions is each service's answers per second by the region of the pool answering.
	ServiceRegions map[string]map[string][]float64 `json:"service_regions"`
	// Seq counts the points taken so far; Full says the series are whole, not the latest points.
	Seq  uint64 `json:"seq"`
	Full bool   `json:"full"`
}

// snapshot returns the last k points of every series and the sequence number of the newest.
func (s *sampler) snapshot(k int) statsJSON {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := statsJSON{Interval: statsInterval.Seconds(), Services: map[string][]float64{},
		Regions: map[string][]float64{}, ServiceRegions: map[string]map[string][]float64{}, Seq: s.seq, Full: k >= statsPoints}
	// A series with no point yet (the first sample, a service a reload added) is not shown.
	for key, ser := range s.byRegion {
		if ser.n == 0 {
			continue
		}
		if out.ServiceRegions[key[0]] == nil {
			out.ServiceRegions[key[0]] = map[string][]float64{}
		}
		out.ServiceRegions[key[0]][key[1]] = ser.last(k)
	}
	for name, ser := range s.services {
		if ser.n > 0 {
			out.Services[name] = ser.last(k)
		}
	}
	for name, ser := range s.regions {
		if ser.n > 0 {
			out.Regions[name] = ser.last(k)
		}
	}
	return out
}

// stats: GET /api/v1/stats → {"interval_seconds": 1, "services": {name: [rates oldest→newest]},
// "regions": {name: [...]}}: answers per second over the last five minutes.
func (a *api) stats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.sampler.snapshot(statsPoints))
}
