package store

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/health"
)

// Many writers, readers that never lock, and overrides at the same time; run with -race. The
// last report of every prober on every target must be in the View, and the latency of Record
// under that load is logged.
func TestConcurrentRecord(t *testing.T) {
	const writers, perWriter, targets = 32, 40, 8
	s := open(t, "", Options{})
	rules := map[string]Rule{}
	for i := range targets {
		rules[fmt.Sprintf("t%d", i)] = Rule{Interval: time.Minute}
	}
	s.SetRules(rules)

	var stop atomic.Bool
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for !stop.Load() {
				v := s.View()
				for _, id := range v.Targets() {
					_ = v.State(id)
					_ = v.Target(id)
				}
				runtime.Gosched() // busy, like a loaded DNS path, but not hogging a core for a whole time slice
			}
		})
	}
	readers.Go(func() {
		for i := 0; !stop.Load(); i++ {
			if err := s.SetOverride("t0", Override{Kind: OverrideKind(i%3 + 1)}); err != nil {
				t.Error(err)
			}
		}
	})

	latency := make([][]time.Duration, writers)
	last := make([]time.Time, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			base := time.Now()
			for i := range perWriter {
				o := health.Observation{
					Target: fmt.Sprintf("t%d", (w+i)%targets), Prober: fmt.Sprintf("p%d", w),
					Up: i%2 == 0, At: base.Add(time.Duration(i) * time.Millisecond),
				}
				start := time.Now()
				if err := s.Record(context.Background(), o); err != nil {
					t.Error(err)
					return
				}
				latency[w] = append(latency[w], time.Since(start))
			}
			last[w] = base.Add((perWriter - 1) * time.Millisecond)
		})
	}
	wg.Wait()
	stop.Store(true)
	readers.Wait()

	v := s.View()
	for w := range writers {
		id := fmt.Sprintf("t%d", (w+perWriter-1)%targets)
		i := slices.IndexFunc(v.Target(id).Reports, func(r Report) bool { return r.Prober == fmt.Sprintf("p%d", w) })
		if i < 0 || !v.Target(id).Reports[i].At.Equal(last[w].UTC()) {
			t.Errorf("%s: p%d's last report missing or old", id, w)
		}
	}
	all := slices.Concat(latency...)
	slices.Sort(all)
	if len(all) > 0 {
		t.Logf("Record latency, %d writers, %d records: p50 %s, p99 %s, max %s",
			writers, len(all), all[len(all)/2], all[len(all)*99/100], all[len(all)-1])
	}
}
