package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/health"
)

// commits is how many commits reg's store has made.
func commits(b *testing.B, reg *prometheus.Registry) uint64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "meridian_store_commit_duration_seconds" {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	b.Fatal("no meridian_store_commit_duration_seconds")
	return 0
}

// BenchmarkRecordPaced: reports arriving as a node's prober sends them at the design's scale
// (50,000 targets at 10 s: 5,000 a second, each from its own probe, up to 256 at once), on a
// real file. It reports the process CPU per report (cpu-µs/report) and the commits per second
// the stream costs; the wall time is the pacing's.
func BenchmarkRecordPaced(b *testing.B) {
	const targets, rate, inflight = 50000, 5000, 256
	reg := prometheus.NewRegistry()
	s, err := Open(filepath.Join(b.TempDir(), "state.db"), Options{Registerer: reg})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	rules := make(map[string]Rule, targets)
	for i := range targets {
		rules[fmt.Sprintf("p%04d/127.1.%d.%d", i/100, i/256%256, i%256)] = Rule{Interval: 10 * time.Second}
	}
	s.SetRules(rules)
	ids := make([]string, 0, targets)
	for id := range rules {
		ids = append(ids, id)
	}
	commits0 := commits(b, reg)
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	sem := make(chan struct{}, inflight)
	var wg sync.WaitGroup
	start := time.Now()
	b.ResetTimer()
	for i := range b.N {
		if wait := time.Until(start.Add(time.Duration(i) * time.Second / rate)); wait > 0 {
			time.Sleep(wait)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			o := health.Observation{Target: ids[i%targets], Prober: "node", Up: true, RTT: time.Duration(i%900) * time.Microsecond, At: time.Now()}
			if err := s.Record(context.Background(), o); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/report")
	b.ReportMetric(float64(commits(b, reg)-commits0)/el.Seconds(), "commits/s")
}
