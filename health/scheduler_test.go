package health

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeMon is a monitor of the fake kind used by the scheduler tests.
func fakeMon(interval, jitter time.Duration, rise, fall int) *Monitor {
	return &Monitor{Name: "fake", Kind: "fake", Interval: interval, Jitter: jitter, Timeout: interval / 2, Rise: rise, Fall: fall}
}

// startScheduler runs s in the background of a synctest bubble; the returned func cancels it
// and returns Run's error.
func startScheduler(t *testing.T, s *Scheduler) (stop func() error) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

// waitObs advances the fake clock until sink holds n observations of id.
func waitObs(sink *recSink, id string, n int) []Observation {
	for len(sink.of(id)) < n {
		time.Sleep(100 * time.Millisecond)
	}
	return sink.of(id)[:n]
}

// TestSchedulerRiseFall: interval 1s, rise 2, fall 3; the prober succeeds 3 times, fails 4
// times, then succeeds. The observations turn Up, Down and Up at exact virtual times.
func TestSchedulerRiseFall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		begin := time.Now()
		var n int
		p := funcProber(func(context.Context, Target) Result {
			n++
			ok := n <= 3 || n > 7
			if ok {
				return Result{OK: true}
			}
			return Result{Err: "status 503, want 200-399"}
		})
		sink := &recSink{}
		s := NewScheduler("node-a", []Target{{ID: "p/a", Monitor: fakeMon(time.Second, 0, 2, 3)}}, map[string]Prober{"fake": p}, sink, SchedulerOptions{})
		stop := startScheduler(t, s)
		obs := waitObs(sink, "p/a", 10)
		if err := stop(); err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}

		t0 := obs[0].At
		if off := t0.Sub(begin); off < 0 || off >= time.Second {
			t.Errorf("first probe at +%v, want within the first interval", off)
		}
		var up []bool
		for i, o := range obs {
			up = append(up, o.Up)
			if want := t0.Add(time.Duration(i) * time.Second); !o.At.Equal(want) {
				t.Errorf("observation %d at +%v, want +%v", i, o.At.Sub(t0), want.Sub(t0))
			}
			if o.Prober != "node-a" || o.Target != "p/a" {
				t.Errorf("observation %d = %+v, want prober node-a, target p/a", i, o)
			}
		}
		wantUp := []bool{false, true, true, true, true, false, false, false, true, true}
		if !slices.Equal(up, wantUp) {
			t.Errorf("Up = %v, want %v", up, wantUp)
		}
		// Turn points as virtual times: up at t0+1s, down at t0+5s (third failure), up at t0+8s.
		var turns []time.Duration
		for i := 1; i < len(obs); i++ {
			if obs[i].Up != obs[i-1].Up {
				turns = append(turns, obs[i].At.Sub(t0))
			}
		}
		if want := []time.Duration{time.Second, 5 * time.Second, 8 * time.Second}; !slices.Equal(turns, want) {
			t.Errorf("Up changed at %v after the first probe, want %v", turns, want)
		}
		if obs[5].Err != "status 503, want 200-399" {
			t.Errorf("observation 5 Err = %q, want the probe's", obs[5].Err)
		}
	})
}

// TestSchedulerNoDrift: probes stay on the grid whatever they take; one that overruns skips
// the slots it missed.
func TestSchedulerNoDrift(t *testing.T) {
	tests := []struct {
		name     string
		took     time.Duration
		probes   int
		wantStep time.Duration
		skips    bool
	}{
		{"instant", 0, 100, time.Second, false},
		{"300ms", 300 * time.Millisecond, 100, time.Second, false},
		{"exactly the interval", time.Second, 20, time.Second, false},
		{"overruns two slots", 2500 * time.Millisecond, 20, 3 * time.Second, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := funcProber(func(context.Context, Target) Result {
					time.Sleep(tc.took)
					return Result{OK: true}
				})
				sink := &recSink{}
				s := NewScheduler("n", []Target{{ID: "p/a", Monitor: fakeMon(time.Second, 0, 1, 1)}}, map[string]Prober{"fake": p}, sink, SchedulerOptions{})
				stop := startScheduler(t, s)
				obs := waitObs(sink, "p/a", tc.probes)
				stop()
				for i, o := range obs {
					if want := obs[0].At.Add(time.Duration(i) * tc.wantStep); !o.At.Equal(want) {
						t.Fatalf("probe %d at +%v, want +%v", i, o.At.Sub(obs[0].At), want.Sub(obs[0].At))
					}
				}
				if got := testutil.ToFloat64(s.met.skipped) > 0; got != tc.skips {
					t.Errorf("skipped probes counted: %v, want %v", got, tc.skips)
				}
			})
		})
	}
}

// TestSchedulerJitter: with jitter 200ms every interval is 1s ± 200ms and every probe within
// 100ms of its slot on a grid that does not drift.
func TestSchedulerJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &recSink{}
		ok := funcProber(func(context.Context, Target) Result { return Result{OK: true} })
		s := NewScheduler("n", []Target{{ID: "p/a", Monitor: fakeMon(time.Second, 200*time.Millisecond, 2, 3)}}, map[string]Prober{"fake": ok}, sink, SchedulerOptions{})
		stop := startScheduler(t, s)
		obs := waitObs(sink, "p/a", 100)
		stop()
		distinct := map[time.Duration]bool{}
		for i := 1; i < len(obs); i++ {
			d := obs[i].At.Sub(obs[i-1].At)
			distinct[d] = true
			if d < 800*time.Millisecond || d > 1200*time.Millisecond {
				t.Errorf("interval %d = %v, want 1s ± 200ms", i, d)
			}
			if drift := obs[i].At.Sub(obs[0].At) - time.Duration(i)*time.Second; drift < -200*time.Millisecond || drift > 200*time.Millisecond {
				t.Errorf("probe %d is %v off the grid of probe 0, want within ±200ms", i, drift)
			}
		}
		if len(distinct) < 50 {
			t.Errorf("%d distinct intervals in 99, want jitter to vary them", len(distinct))
		}
	})
}

// TestSchedulerSpread: first probes of many targets spread evenly over the first interval.
func TestSchedulerSpread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		begin := time.Now()
		const n = 1000
		mon := fakeMon(time.Second, 0, 2, 3)
		targets := make([]Target, n)
		for i := range targets {
			targets[i] = Target{ID: fmt.Sprintf("p/%d", i), Monitor: mon}
		}
		sink := &recSink{}
		s := NewScheduler("n", targets, map[string]Prober{"fake": funcProber(func(context.Context, Target) Result { return Result{OK: true} })}, sink, SchedulerOptions{})
		stop := startScheduler(t, s)
		time.Sleep(time.Second - time.Nanosecond)
		stop()
		var quarters [4]int
		for _, o := range sink.obs {
			quarters[o.At.Sub(begin)*4/time.Second]++
		}
		if sink.len() != n {
			t.Errorf("%d first probes in the first interval, want %d", sink.len(), n)
		}
		for q, c := range quarters {
			if c < n/4-100 {
				t.Errorf("first probes in quarter %d of the first interval: %d of %d, want them spread (%v)", q, c, n, quarters)
			}
		}
	})
}

// TestSchedulerConcurrencyLag: with one slot, three probes due at once run one after the
// other, and the wait counts as lag.
func TestSchedulerConcurrencyLag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := funcProber(func(context.Context, Target) Result { time.Sleep(100 * time.Millisecond); return Result{OK: true} })
		mon := fakeMon(time.Second, 0, 1, 1)
		sink := &recSink{}
		s := NewScheduler("n", []Target{{ID: "p/a", Monitor: mon}, {ID: "p/b", Monitor: mon}, {ID: "p/c", Monitor: mon}},
			map[string]Prober{"fake": p}, sink, SchedulerOptions{Concurrency: 1})
		s.randN = func(time.Duration) time.Duration { return 0 } // every first slot is now
		var mu sync.Mutex
		var lags []time.Duration
		s.lagHook = func(d time.Duration) { mu.Lock(); lags = append(lags, d); mu.Unlock() }
		stop := startScheduler(t, s)
		for sink.len() < 3 {
			time.Sleep(10 * time.Millisecond)
		}
		stop()
		mu.Lock()
		defer mu.Unlock()
		slices.Sort(lags)
		if want := []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond}; !slices.Equal(lags[:3], want) {
			t.Errorf("lags = %v, want %v", lags[:3], want)
		}
	})
}

// TestSchedulerReplace: a target whose monitor is unchanged keeps its state across Replace;
// a changed monitor starts afresh; a removed target is no longer probed.
func TestSchedulerReplace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ok := funcProber(func(context.Context, Target) Result { return Result{OK: true} })
		sink := &recSink{}
		a := Target{ID: "p/a", Monitor: fakeMon(time.Second, 0, 2, 3)}
		s := NewScheduler("n", []Target{a}, map[string]Prober{"fake": ok}, sink, SchedulerOptions{})
		stop := startScheduler(t, s)
		if obs := waitObs(sink, "p/a", 2); !obs[1].Up {
			t.Fatalf("after 2 successes Up = false, want true")
		}

		same := a
		same.Monitor = fakeMon(time.Second, 0, 2, 3) // a reload: a new, equal monitor
		b := Target{ID: "p/b", Monitor: fakeMon(time.Second, 0, 2, 3)}
		s.Replace([]Target{same, b})
		if obs := waitObs(sink, "p/a", 3); !obs[2].Up {
			t.Errorf("after Replace with the same monitor, Up = false, want the state kept")
		}
		if obs := waitObs(sink, "p/b", 1); obs[0].Up {
			t.Errorf("new target's first observation Up = true, want false")
		}

		changed := a
		changed.Monitor = fakeMon(time.Second, 0, 3, 3)
		s.Replace([]Target{changed, b})
		if obs := waitObs(sink, "p/a", 5); obs[3].Up || obs[4].Up {
			t.Errorf("after Replace with another monitor, Up = %v, %v, want false, false (state reset, rise 3)", obs[3].Up, obs[4].Up)
		}

		s.Replace([]Target{b})
		synctest.Wait()
		before := len(sink.of("p/a"))
		nb := len(sink.of("p/b"))
		time.Sleep(5 * time.Second)
		if got := len(sink.of("p/a")); got != before {
			t.Errorf("removed target probed %d more times, want 0", got-before)
		}
		if got := len(sink.of("p/b")); got < nb+4 {
			t.Errorf("kept target probed %d times in 5s, want 5", got-nb)
		}
		if err := stop(); err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	})
}

// TestSchedulerStop: cancelling Run's context stops probes in flight at once; nothing is
// recorded for them and Run returns nil.
func TestSchedulerStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		started := make(chan struct{}, 1)
		p := funcProber(func(ctx context.Context, _ Target) Result {
			started <- struct{}{}
			<-ctx.Done()
			return Result{Err: "canceled"}
		})
		sink := &recSink{}
		s := NewScheduler("n", []Target{{ID: "p/a", Monitor: fakeMon(time.Minute, 0, 1, 1)}}, map[string]Prober{"fake": p}, sink, SchedulerOptions{})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		<-started
		if err := s.Run(ctx); err == nil {
			t.Error("second concurrent Run = nil, want an error")
		}
		begin := time.Now()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
		if d := time.Since(begin); d != 0 {
			t.Errorf("Run returned %v after cancel, want at once", d)
		}
		if n := sink.len(); n != 0 {
			t.Errorf("%d observations recorded for cancelled probes, want 0", n)
		}
	})
}

// TestSchedulerSkipsUnprobeable: targets without a monitor or a prober for its kind are left out.
func TestSchedulerSkipsUnprobeable(t *testing.T) {
	s := NewScheduler("n", []Target{{ID: "p/none"}, {ID: "p/ftp", Monitor: &Monitor{Kind: "ftp"}}, {ID: "p/ok", Monitor: fakeMon(time.Second, 0, 1, 1)}},
		map[string]Prober{"fake": funcProber(func(context.Context, Target) Result { return Result{OK: true} })}, &recSink{}, SchedulerOptions{})
	if len(s.entries) != 1 || s.entries["p/ok"] == nil {
		t.Errorf("entries = %v, want only p/ok", s.entries)
	}
}
