package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/dns"
)

// fakeCounts is a CountSource the test sets: its answer rows, in a new generation whenever
// they differ from the last set's but for their counts.
type fakeCounts struct {
	mu     sync.Mutex
	counts []dns.ServiceCount
	gen    uint64
}

func (f *fakeCounts) set(all ...dns.ServiceCount) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var c []dns.ServiceCount
	for _, x := range all {
		if x.Outcome == "answer" {
			c = append(c, x)
		}
	}
	same := len(c) == len(f.counts)
	for i := 0; same && i < len(c); i++ {
		a, b := c[i], f.counts[i]
		same = a.Service == b.Service && a.Pool == b.Pool && a.Region == b.Region && a.Outcome == b.Outcome
	}
	if !same || f.gen == 0 {
		f.gen++
	}
	f.counts = c
}

func (f *fakeCounts) AppendAnswerCounts(dst []dns.ServiceCount) (uint64, []dns.ServiceCount) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gen, append(dst, f.counts...)
}

// countingServices serves no services and counts answers as its fakeCounts say.
type countingServices struct{ *fakeCounts }

func (countingServices) Services() []dns.ServiceInfo { return nil }
func (countingServices) Explain(string, uint16, netip.Addr, netip.Prefix) (string, error) {
	return "", nil
}

func answers(svc, pool, region string, n uint64) dns.ServiceCount {
	return dns.ServiceCount{Service: svc, Pool: pool, Region: region, Outcome: "answer", Count: n}
}

func TestSamplerRates(t *testing.T) {
	src := &fakeCounts{}
	s := newSampler(src)
	t0 := time.Unix(1000, 0)
	src.set(answers("a.", "p1", "eu", 10), answers("a.", "p2", "us", 0), answers("b.", "p2", "us", 5),
		dns.ServiceCount{Service: "a.", Outcome: "nodata", Count: 7})
	s.sample(t0) // the baseline: no point yet
	if got := s.snapshot(statsPoints); len(got.Services) != 0 || got.Seq != 0 {
		t.Fatalf("after the first sample: %+v, want no points", got)
	}
	src.set(answers("a.", "p1", "eu", 30), answers("a.", "p2", "us", 4), answers("b.", "p2", "us", 5),
		dns.ServiceCount{Service: "a.", Outcome: "nodata", Count: 100})
	s.sample(t0.Add(2 * time.Second)) // 24 answers for a. over 2 s; nodata is not an answer
	src.set(answers("a.", "p1", "eu", 3), answers("a.", "p2", "us", 4), answers("b.", "p2", "us", 8))
	s.sample(t0.Add(3 * time.Second)) // a reload: p1 counts again from 0
	got := s.snapshot(statsPoints)
	want := map[string][]float64{"a.": {12, 3}, "b.": {0, 3}}
	for name, w := range want {
		if g := got.Services[name]; len(g) != len(w) || g[0] != w[0] || g[1] != w[1] {
			t.Errorf("service %s: %v, want %v", name, g, w)
		}
	}
	wantReg := map[string][]float64{"eu": {10, 3}, "us": {2, 3}}
	for name, w := range wantReg {
		if g := got.Regions[name]; len(g) != len(w) || g[0] != w[0] || g[1] != w[1] {
			t.Errorf("region %s: %v, want %v", name, g, w)
		}
	}
	// Each service's answers by the region of the pool answering: a. split over eu and us.
	wantSvcReg := map[[2]string][]float64{{"a.", "eu"}: {10, 3}, {"a.", "us"}: {2, 0}, {"b.", "us"}: {0, 3}}
	for k, w := range wantSvcReg {
		if g := got.ServiceRegions[k[0]][k[1]]; len(g) != len(w) || g[0] != w[0] || g[1] != w[1] {
			t.Errorf("service %s in region %s: %v, want %v", k[0], k[1], g, w)
		}
	}
	if got.Seq != 2 || got.Interval != 1 {
		t.Errorf("seq %d interval %v, want 2 and 1", got.Seq, got.Interval)
	}
	if last := s.snapshot(1); len(last.Services["a."]) != 1 || last.Services["a."][0] != 3 {
		t.Errorf("latest point of a.: %v, want [3]", last.Services["a."])
	}

	// The ring keeps the last statsPoints, oldest first; a service gone from the counts goes.
	src.set(answers("a.", "p1", "eu", 3))
	for i := range statsPoints + 10 {
		src.set(answers("a.", "p1", "eu", 3+uint64(i+1)*uint64(i+1)))
		s.sample(t0.Add(time.Duration(4+i) * time.Second))
	}
	got = s.snapshot(statsPoints)
	a := got.Services["a."]
	if len(a) != statsPoints || a[0] != float64(2*10+1) || a[statsPoints-1] != float64(2*(statsPoints+9)+1) {
		t.Errorf("a.: %d points from %v to %v, want %d from 21 to %d", len(a), a[0], a[len(a)-1], statsPoints, 2*(statsPoints+9)+1)
	}
	if _, ok := got.Services["b."]; ok {
		t.Error("b., gone from the counts, still has a series")
	}
}

// TestStatsAPI: /api/v1/stats and the stream's stats events, the sampler driven by the test.
func TestStatsAPI(t *testing.T) {
	_, st := newAPI(t, "")
	src := &fakeCounts{}
	srvc := countingServices{src}
	s := New(prometheus.NewRegistry(), func() error { return nil }, &API{Health: st, Services: srvc}, slog.New(slog.DiscardHandler))
	if s.sampler == nil {
		t.Fatal("no sampler for Services that count answers")
	}
	if New(prometheus.NewRegistry(), func() error { return nil }, &API{Health: st}, slog.New(slog.DiscardHandler)).sampler != nil {
		t.Error("a sampler without Services")
	}
	srv := httptest.NewServer(s.srv.Handler)
	t.Cleanup(srv.Close)
	t0 := time.Now()
	src.set(answers("www.", "a", "eu", 0))
	s.sampler.sample(t0)
	src.set(answers("www.", "a", "eu", 50))
	s.sampler.sample(t0.Add(time.Second))

	code, body := do(t, s.srv.Handler, "GET", "/api/v1/stats", "", "")
	var got statsJSON
	if code != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil {
		t.Fatalf("GET /api/v1/stats: %d %s", code, body)
	}
	if len(got.Services["www."]) != 1 || got.Services["www."][0] != 50 || got.Regions["eu"][0] != 50 {
		t.Errorf("stats %s, want www. and eu at 50/s", body)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	evs := readSSE(resp.Body)
	stats := func(why string) statsJSON {
		t.Helper()
		deadline := time.After(2 * time.Second)
		for {
			select {
			case e, ok := <-evs:
				if !ok {
					t.Fatalf("%s: stream ended", why)
				}
				if e.event != "stats" {
					continue
				}
				var v statsJSON
				if err := json.Unmarshal([]byte(e.data), &v); err != nil {
					t.Fatal(err)
				}
				return v
			case <-deadline:
				t.Fatalf("%s: no stats event", why)
			}
		}
	}
	if v := stats("at connect"); !v.Full || v.Seq != 1 || len(v.Services["www."]) != 1 {
		t.Errorf("at connect: %+v, want the full series", v)
	}
	src.set(answers("www.", "a", "eu", 60))
	s.sampler.sample(t0.Add(2 * time.Second))
	if v := stats("after a sample"); v.Full || v.Seq != 2 || len(v.Services["www."]) != 1 || v.Services["www."][0] != 10 {
		t.Errorf("after a sample: %+v, want the latest point, 10/s", v)
	}
}

// TestSamplerReload: a reload (a new generation) keeps the points of the series still there,
// drops those gone, and counts the new config's answers from zero.
func TestSamplerReload(t *testing.T) {
	src := &fakeCounts{}
	s := newSampler(src)
	t0 := time.Unix(1000, 0)
	src.set(answers("a.", "p1", "eu", 10), answers("b.", "p2", "us", 10))
	s.sample(t0)
	src.set(answers("a.", "p1", "eu", 20), answers("b.", "p2", "us", 30))
	s.sample(t0.Add(time.Second))
	src.set(answers("a.", "p1", "eu", 4), answers("c.", "p3", "ap", 6)) // b. is gone, c. is new
	s.sample(t0.Add(2 * time.Second))
	got := s.snapshot(statsPoints)
	if g := got.Services["a."]; len(g) != 2 || g[0] != 10 || g[1] != 4 {
		t.Errorf("a.: %v, want [10 4]", g)
	}
	if g := got.Services["c."]; len(g) != 1 || g[0] != 6 {
		t.Errorf("c.: %v, want [6]", g)
	}
	if g, ok := got.Services["b."]; ok {
		t.Errorf("b. is gone from the config but has %v", g)
	}
	if g, ok := got.Regions["us"]; ok {
		t.Errorf("region us has no pool left but has %v", g)
	}
	if g := got.ServiceRegions["c."]["ap"]; len(g) != 1 || g[0] != 6 {
		t.Errorf("c. in ap: %v, want [6]", g)
	}
}

// BenchmarkSample: one second's sample at the design's 10,000 services of three pools each.
func BenchmarkSample(b *testing.B) {
	src := &fakeCounts{}
	var rows []dns.ServiceCount
	for i := range 10000 {
		for j, r := range []string{"na", "eu", "ap"} {
			rows = append(rows, answers(fmt.Sprintf("s%05d.scale.test.", i), fmt.Sprintf("p%d", j), r, uint64(i)))
		}
	}
	src.set(rows...)
	s := newSampler(src)
	now := time.Unix(1000, 0)
	for b.Loop() {
		now = now.Add(time.Second)
		s.sample(now)
	}
}
