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
	AnswerCounts() []dns.ServiceCount
}

const (
	statsInterval = time.Second
	statsPoints   = 300 // rates kept per series: five minutes
)

// series is a ring of the last statsPoints rates.
type series struct {
	vals [statsPoints]float64
	n    int // points held
	next int // where the next point goes
}

func (s *series) push(v float64) {
	s.vals[s.next] = v
	s.next = (s.next + 1) % statsPoints
	s.n = min(s.n+1, statsPoints)
}

// last returns up to k points, oldest first.
func (s *series) last(k int) []float64 {
	k = min(k, s.n)
	out := make([]float64, k)
	for i := range k {
		out[i] = s.vals[(s.next-k+i+statsPoints)%statsPoints]
	}
	return out
}

type countKey struct{ service, pool, region, outcome string }

// sampler turns cumulative counts into per-second answer rates per service and per region.
type sampler struct {
	src CountSource

	mu       sync.Mutex
	prev     map[countKey]uint64
	last     time.Time // of the previous sample; zero before the first
	seq      uint64    // points taken
	services map[string]*series
	regions  map[string]*series
	byRegion map[[2]string]*series // service, region: each service's answer distribution

	sampled *signal // fired after each new point: the streams send it
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
// than before (a reload starts counting again) counts from zero.
func (s *sampler) sample(now time.Time) {
	counts := s.src.AnswerCounts()
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.prev
	s.prev = make(map[countKey]uint64, len(counts))
	svcDelta, regDelta, byRegDelta := map[string]uint64{}, map[string]uint64{}, map[[2]string]uint64{}
	for _, c := range counts {
		k := countKey{c.Service, c.Pool, c.Region, c.Outcome}
		s.prev[k] = c.Count
		d := c.Count
		if p, ok := prev[k]; ok && p <= c.Count {
			d = c.Count - p
		}
		if c.Outcome != "answer" {
			continue
		}
		svcDelta[c.Service] += d
		if c.Region != "" {
			regDelta[c.Region] += d
			byRegDelta[[2]string{c.Service, c.Region}] += d
		}
	}
	first := s.last.IsZero()
	elapsed := now.Sub(s.last).Seconds()
	s.last = now
	if first || elapsed <= 0 {
		return
	}
	addSeries(s.services, svcDelta, elapsed)
	addSeries(s.regions, regDelta, elapsed)
	addSeries(s.byRegion, byRegDelta, elapsed)
	s.seq++
	s.sampled.Fire()
}

// addSeries adds a point to every series of m, the delta over elapsed seconds; series whose
// key is gone from deltas are dropped (gone from the config).
func addSeries[K comparable](m map[K]*series, deltas map[K]uint64, elapsed float64) {
	for name := range m {
		if _, ok := deltas[name]; !ok {
			delete(m, name)
		}
	}
	for name, d := range deltas {
		ser := m[name]
		if ser == nil {
			ser = &series{}
			m[name] = ser
		}
		ser.push(float64(d) / elapsed)
	}
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
	for key, ser := range s.byRegion {
		if out.ServiceRegions[key[0]] == nil {
			out.ServiceRegions[key[0]] = map[string][]float64{}
		}
		out.ServiceRegions[key[0]][key[1]] = ser.last(k)
	}
	for name, ser := range s.services {
		out.Services[name] = ser.last(k)
	}
	for name, ser := range s.regions {
		out.Regions[name] = ser.last(k)
	}
	return out
}

// stats: GET /api/v1/stats → {"interval_seconds": 1, "services": {name: [rates oldest→newest]},
// "regions": {name: [...]}}: answers per second over the last five minutes.
func (a *api) stats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.sampler.snapshot(statsPoints))
}
