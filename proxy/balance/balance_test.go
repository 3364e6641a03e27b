package balance

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var policies = []string{
	"round_robin", "weighted_round_robin", "least_conn", "ip_hash", "consistent_hash", "random", "p2c",
}

func pool(weights ...int) []*Upstream {
	p := make([]*Upstream, len(weights))
	for i, w := range weights {
		p[i] = NewUpstream(fmt.Sprintf("10.0.0.%d:80", i+1), w)
	}
	return p
}

func mustNew(t testing.TB, name string) Selector {
	t.Helper()
	s, err := New(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewUnknown(t *testing.T) {
	if _, err := New("fastest"); err == nil {
		t.Error("New(fastest): got nil error, want one")
	}
}

func TestUpstreamState(t *testing.T) {
	u := NewUpstream("a:1", 0)
	if u.Weight != 1 || !u.Available() {
		t.Fatalf("NewUpstream(weight 0): weight %d available %v, want 1 true", u.Weight, u.Available())
	}
	u.Acquire()
	u.Acquire()
	r1, r2 := u.Release, u.Release
	if got := u.InFlight(); got != 2 {
		t.Errorf("InFlight = %d, want 2", got)
	}
	r1()
	r2()
	if got := u.InFlight(); got != 0 {
		t.Errorf("InFlight after release = %d, want 0", got)
	}
	u.SetHealthy(false)
	if u.Available() {
		t.Error("unhealthy upstream is available")
	}
	u.SetHealthy(true)
	u.SetDraining(true)
	if u.Available() {
		t.Error("draining upstream is available")
	}
}

func TestSkipsUnavailable(t *testing.T) {
	tests := []struct {
		name string
		set  func(p []*Upstream) // leaves only p[1] available, or none
		want int                 // index of the only eligible upstream, -1 for nil
	}{
		{"empty pool", nil, -1},
		{"all unhealthy", func(p []*Upstream) {
			for _, u := range p {
				u.SetHealthy(false)
			}
		}, -1},
		{"all draining", func(p []*Upstream) {
			for _, u := range p {
				u.SetDraining(true)
			}
		}, -1},
		{"one left", func(p []*Upstream) { p[0].SetHealthy(false); p[2].SetDraining(true) }, 1},
	}
	for _, name := range policies {
		for _, tc := range tests {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				s := mustNew(t, name)
				var p []*Upstream
				if tc.set != nil {
					p = pool(3, 1, 2)
					tc.set(p)
				}
				for i := range 50 {
					got := s.Select(p, fmt.Sprint("key", i))
					switch {
					case tc.want < 0 && got != nil:
						t.Fatalf("Select = %s, want nil", got.Addr)
					case tc.want >= 0 && got != p[tc.want]:
						t.Fatalf("Select = %v, want %s", got, p[tc.want].Addr)
					}
				}
			})
		}
	}
}

func TestRoundRobinEven(t *testing.T) {
	p := pool(1, 9, 1, 1)
	p[2].SetDraining(true)
	var rr RoundRobin
	counts := map[*Upstream]int{}
	for i := range 300 {
		u := rr.Select(p, "")
		if i < 3 && u != []*Upstream{p[0], p[1], p[3]}[i] {
			t.Errorf("pick %d = %s, want pool order", i, u.Addr)
		}
		counts[u]++
	}
	for _, u := range []*Upstream{p[0], p[1], p[3]} {
		if counts[u] != 100 {
			t.Errorf("%s picked %d times, want 100", u.Addr, counts[u])
		}
	}
}

func TestWeightedRoundRobin(t *testing.T) {
	p := pool(5, 1, 1)
	names := map[*Upstream]string{p[0]: "a", p[1]: "b", p[2]: "c"}
	var w WeightedRoundRobin
	got := ""
	for range 7 {
		got += names[w.Select(p, "")]
	}
	if want := "aabacaa"; got != want {
		t.Errorf("sequence = %s, want %s", got, want)
	}
	counts := map[*Upstream]int{}
	for range 700 {
		counts[w.Select(p, "")]++
	}
	for _, u := range p {
		if want := 100 * u.Weight; counts[u] != want {
			t.Errorf("%s picked %d times, want %d", names[u], counts[u], want)
		}
	}

	t.Run("availability change", func(t *testing.T) {
		p[0].SetHealthy(false)
		counts := map[*Upstream]int{}
		for range 200 {
			counts[w.Select(p, "")]++
		}
		if counts[p[0]] != 0 || counts[p[1]] != 100 || counts[p[2]] != 100 {
			t.Errorf("with a down: a,b,c = %d,%d,%d, want 0,100,100", counts[p[0]], counts[p[1]], counts[p[2]])
		}
		p[0].SetHealthy(true)
		clear(counts)
		for range 700 {
			counts[w.Select(p, "")]++
		}
		for _, u := range p {
			if d := counts[u] - 100*u.Weight; d < -1 || d > 1 {
				t.Errorf("after recovery %s picked %d times, want %d±1", names[u], counts[u], 100*u.Weight)
			}
		}
	})

	t.Run("pool shrinks", func(t *testing.T) {
		w.Select(p[:2], "")
		if len(w.current) != 2 {
			t.Errorf("state entries = %d, want 2", len(w.current))
		}
	})
}

func TestLeastConn(t *testing.T) {
	p := pool(1, 1, 1, 1)
	loads := []int{3, 1, 2, 1}
	for i, n := range loads {
		for range n {
			p[i].Acquire()
			defer p[i].Release()
		}
	}
	var lc LeastConn
	counts := map[*Upstream]int{}
	for range 1000 {
		counts[lc.Select(p, "")]++
	}
	if counts[p[0]]+counts[p[2]] != 0 {
		t.Errorf("picked a loaded upstream: %v", counts)
	}
	for _, i := range []int{1, 3} {
		if counts[p[i]] < 400 {
			t.Errorf("tie %s picked %d/1000 times, want about 500", p[i].Addr, counts[p[i]])
		}
	}
	p[1].SetDraining(true)
	if got := lc.Select(p, ""); got != p[3] {
		t.Errorf("Select = %s, want %s", got.Addr, p[3].Addr)
	}
}

func TestSticky(t *testing.T) {
	for _, name := range []string{"ip_hash", "consistent_hash"} {
		t.Run(name, func(t *testing.T) {
			s := mustNew(t, name)
			p := pool(1, 2, 3, 1, 1)
			seen := map[*Upstream]bool{}
			for i := range 200 {
				key := fmt.Sprintf("192.0.2.%d", i)
				first := s.Select(p, key)
				seen[first] = true
				for range 5 {
					if got := s.Select(p, key); got != first {
						t.Fatalf("key %s: got %s, then %s", key, first.Addr, got.Addr)
					}
				}
			}
			if len(seen) != len(p) {
				t.Errorf("200 keys reached %d upstreams, want %d", len(seen), len(p))
			}
		})
	}
}

func TestConsistentHashMinimalMove(t *testing.T) {
	p := pool(1, 1, 2, 1, 1)
	var ch ConsistentHash
	before := make([]*Upstream, 1000)
	for i := range before {
		before[i] = ch.Select(p, fmt.Sprint("client-", i))
	}
	removed := p[2]
	removed.SetHealthy(false)
	moved := 0
	for i, was := range before {
		got := ch.Select(p, fmt.Sprint("client-", i))
		switch {
		case was == removed:
			moved++
		case got != was:
			t.Errorf("key %d moved from %s to %s, though its upstream stayed", i, was.Addr, got.Addr)
		}
	}
	// Weight 2 of 6: about a third of the keys lived on the removed upstream.
	if moved < 250 || moved > 420 {
		t.Errorf("%d of 1000 keys on the weight-2 upstream, want about 333", moved)
	}
}

func TestConsistentHashWeights(t *testing.T) {
	p := pool(1, 3)
	var ch ConsistentHash
	heavy := 0
	for i := range 10000 {
		if ch.Select(p, fmt.Sprint("k", i)) == p[1] {
			heavy++
		}
	}
	if heavy < 7200 || heavy > 7800 {
		t.Errorf("weight 3 of 4 got %d/10000 keys, want about 7500", heavy)
	}
}

func TestConsistentHashBoundedLoad(t *testing.T) {
	p := pool(1, 1, 1, 1)
	var ch ConsistentHash
	const key = "hot"
	owner := ch.Select(p, key)
	var releases []func()
	defer func() {
		for _, r := range releases {
			r()
		}
	}()
	counts := map[*Upstream]int{}
	for i := 1; i <= 100; i++ {
		u := ch.Select(p, key)
		counts[u]++
		u.Acquire()
		releases = append(releases, u.Release)
		limit := int64(math.Ceil(LoadFactor * float64(i) / float64(len(p))))
		for _, u := range p {
			if u.InFlight() > limit {
				t.Fatalf("after %d requests %s holds %d, bound %d", i, u.Addr, u.InFlight(), limit)
			}
		}
	}
	if counts[owner] >= 40 {
		t.Errorf("owner took %d of 100 hot requests, want at most ceil(1.25×100/4)", counts[owner])
	}
	if len(counts) != len(p) {
		t.Errorf("hot key spread over %d upstreams, want %d", len(counts), len(p))
	}
	for _, r := range releases {
		r()
	}
	releases = nil
	if got := ch.Select(p, key); got != owner {
		t.Errorf("idle again: got %s, want the owner %s", got.Addr, owner.Addr)
	}
}

func TestUniform(t *testing.T) {
	for _, name := range []string{"random", "p2c"} {
		t.Run(name, func(t *testing.T) {
			s := mustNew(t, name)
			p := pool(1, 1, 1, 1, 1)
			p[4].SetDraining(true)
			counts := map[*Upstream]int{}
			const picks = 10000
			for range picks {
				counts[s.Select(p, "")]++
			}
			if counts[p[4]] != 0 {
				t.Errorf("draining upstream picked %d times", counts[p[4]])
			}
			for _, u := range p[:4] {
				if c := counts[u]; c < 2200 || c > 2800 { // expect 2500, σ≈43
					t.Errorf("%s picked %d/%d times, want about 2500", u.Addr, c, picks)
				}
			}
		})
	}
}

func TestP2CPrefersLessLoaded(t *testing.T) {
	tests := []struct {
		name  string
		loads []int
		min   int // picks of upstream 0 (the idle one) out of 1000, at least
		max   int
	}{
		// Two upstreams: both are always drawn, so the idle one always wins.
		{"pair", []int{0, 5}, 1000, 1000},
		// Three: the idle one wins whenever drawn, 2/3 of the time.
		{"three", []int{0, 5, 5}, 600, 733},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := pool(make([]int, len(tc.loads))...)
			for i, n := range tc.loads {
				for range n {
					p[i].Acquire()
					defer p[i].Release()
				}
			}
			var s P2C
			got := 0
			for range 1000 {
				if s.Select(p, "") == p[0] {
					got++
				}
			}
			if got < tc.min || got > tc.max {
				t.Errorf("idle upstream won %d/1000, want %d..%d", got, tc.min, tc.max)
			}
		})
	}
}

func TestConcurrent(t *testing.T) {
	for _, name := range policies {
		t.Run(name, func(t *testing.T) {
			s := mustNew(t, name)
			p := pool(1, 2, 3, 1)
			var wg sync.WaitGroup
			for g := range 16 {
				wg.Go(func() {
					for i := range 500 {
						if i%50 == 0 {
							p[g%len(p)].SetHealthy(i%100 != 0)
						}
						if u := s.Select(p, fmt.Sprint(g, i%7)); u != nil {
							u.Acquire()
							u.Release()
						}
					}
				})
			}
			wg.Wait()
			for _, u := range p {
				if n := u.InFlight(); n != 0 {
					t.Errorf("%s in flight = %d after all released", u.Addr, n)
				}
			}
		})
	}
}

func BenchmarkSelect(b *testing.B) {
	p := pool(5, 1, 1, 2, 3, 1, 1, 4)
	p[3].SetDraining(true)
	for _, name := range policies {
		b.Run(name, func(b *testing.B) {
			s := mustNew(b, name)
			b.ReportAllocs()
			for b.Loop() {
				if s.Select(p, "198.51.100.7") == nil {
					b.Fatal("nil")
				}
			}
		})
	}
}

func TestOutlierEjectsWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		u := NewUpstream("a:1", 1)
		var ejections []time.Duration
		o := &Outlier{Failures: 3, Base: time.Second, Max: 3 * time.Second,
			OnEject: func(_ *Upstream, d time.Duration) { ejections = append(ejections, d) }}
		for i := range 2 {
			if u.Failed(o) {
				t.Fatalf("ejected after %d failures, want 3", i+1)
			}
		}
		u.Succeeded() // resets the run of failures
		for range 2 {
			u.Failed(o)
		}
		if u.Ejected() {
			t.Fatal("ejected although a success broke the run")
		}
		if !u.Failed(o) || u.Available() {
			t.Fatal("third consecutive failure did not eject")
		}
		time.Sleep(999 * time.Millisecond)
		if u.Available() {
			t.Fatal("available before the ejection time ran out")
		}
		time.Sleep(2 * time.Millisecond)
		if !u.Available() {
			t.Fatal("still ejected after Base")
		}
		// Failing again without a success: 2 s, then capped at Max (3 s, not 4 s).
		for range 3 {
			u.Failed(o)
		}
		time.Sleep(2*time.Second + time.Millisecond)
		for range 3 {
			u.Failed(o)
		}
		time.Sleep(3*time.Second + time.Millisecond)
		u.Succeeded()
		for range 3 {
			u.Failed(o)
		}
		want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, time.Second}
		if !slices.Equal(ejections, want) {
			t.Errorf("ejection times = %v, want %v", ejections, want)
		}
		if (&Upstream{}).Failed(nil) {
			t.Error("a nil Outlier ejected")
		}
	})
}

func TestTryAcquireHonoursTheLimit(t *testing.T) {
	u := NewUpstream("a:1", 1)
	if !u.TryAcquire(2) || !u.TryAcquire(2) || u.TryAcquire(2) {
		t.Fatal("limit 2: want two acquisitions and a refusal")
	}
	if got := u.InFlight(); got != 2 {
		t.Errorf("InFlight = %d, want 2 (a refusal must not count)", got)
	}
	u.Release()
	if !u.TryAcquire(2) {
		t.Error("refused below the limit")
	}
	if !u.TryAcquire(0) {
		t.Error("limit 0 refused")
	}
}

func TestDrainingSince(t *testing.T) {
	u := NewUpstream("a:1", 1)
	if !u.DrainingSince().IsZero() {
		t.Fatal("DrainingSince set before draining")
	}
	u.SetDraining(true)
	first := u.DrainingSince()
	u.SetDraining(true)
	if first.IsZero() || !u.DrainingSince().Equal(first) {
		t.Errorf("DrainingSince = %v then %v, want set once", first, u.DrainingSince())
	}
	u.SetDraining(false)
	if !u.DrainingSince().IsZero() || !u.Available() {
		t.Error("undrained upstream still draining")
	}
}
