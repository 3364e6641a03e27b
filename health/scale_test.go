//go:build linux

package health

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestSchedulerScale is the scheduler's scale benchmark: 10,000 tcp targets at a 1s interval
// (jitter 100ms) against 10 loopback listeners that accept and close, on one core
// (GOMAXPROCS=1), measured over 10s after a 1s ramp. It reports schedule lag (p50, p99,
// max), probes/s and CPU per probe (getrusage user+system over probes). The listeners run in
// a child process, this test binary re-executed, so the CPU is the scheduler's and probes'
// alone. Opt-in, as it takes ~12s and a core:
//
//	MERIDIAN_SCHED_BENCH=1 go test -run TestSchedulerScale -v -count=1 ./health/
func TestSchedulerScale(t *testing.T) {
	if os.Getenv("MERIDIAN_SCHED_BENCH") != "1" {
		t.Skip("scale benchmark: set MERIDIAN_SCHED_BENCH=1 to run it")
	}
	const (
		nTargets = 10000
		ramp     = time.Second
		window   = 10 * time.Second
	)
	backends := startScaleBackends(t, 10)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))

	mon := &Monitor{Name: "raw", Kind: "tcp", Interval: time.Second, Jitter: 100 * time.Millisecond, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 3}
	targets := make([]Target, nTargets)
	for i := range targets {
		targets[i] = Target{ID: fmt.Sprintf("pool/%d", i), Addr: backends[i%len(backends)], Monitor: mon}
	}
	sink := &countSink{}
	s := NewScheduler("bench", targets, Probers(), sink, SchedulerOptions{})
	var measuring atomic.Bool
	var mu sync.Mutex
	lags := make([]time.Duration, 0, 12*nTargets)
	s.lagHook = func(d time.Duration) {
		if measuring.Load() {
			mu.Lock()
			lags = append(lags, d)
			mu.Unlock()
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	time.Sleep(ramp) // a benchmark window, not a wait for readiness
	ok0, fail0, cpu0, t0 := sink.ok.Load(), sink.fail.Load(), cpuTime(t), time.Now()
	measuring.Store(true)
	time.Sleep(window)
	measuring.Store(false)
	ok1, fail1, cpu1, wall := sink.ok.Load(), sink.fail.Load(), cpuTime(t), time.Since(t0)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	goroutines := runtime.NumGoroutine()
	cancel()
	<-done

	probes := (ok1 - ok0) + (fail1 - fail0)
	mu.Lock()
	slices.Sort(lags)
	q := func(p float64) time.Duration { return lags[min(int(p*float64(len(lags))), len(lags)-1)] }
	t.Logf("%d targets, interval 1s, GOMAXPROCS=1, %v window: %d probes (%.0f/s), %d failed, %v skipped",
		nTargets, wall.Round(time.Millisecond), probes, float64(probes)/wall.Seconds(), fail1-fail0, testutil.ToFloat64(s.met.skipped))
	t.Logf("schedule lag: p50 %v, p90 %v, p99 %v, p99.9 %v, max %v (%d samples)", q(.5), q(.9), q(.99), q(.999), lags[len(lags)-1], len(lags))
	t.Logf("CPU: %.1f µs per probe, %.0f%% of one core", float64((cpu1-cpu0).Microseconds())/float64(probes), 100*(cpu1-cpu0).Seconds()/wall.Seconds())
	t.Logf("memory: %d goroutines, stacks %d MiB, heap %d MiB, %d GCs", goroutines, ms.StackInuse>>20, ms.HeapInuse>>20, ms.NumGC)
	mu.Unlock()
	if fail1 > fail0 {
		t.Errorf("%d probes failed (e.g. %q), want none against live loopback listeners", fail1-fail0, sink.lastErr.Load())
	}
}

// countSink counts observations.
type countSink struct {
	ok, fail atomic.Int64
	lastErr  atomic.Value
}

func (s *countSink) Record(_ context.Context, o Observation) error {
	if o.Err == "" {
		s.ok.Add(1)
	} else {
		s.fail.Add(1)
		s.lastErr.Store(o.Err)
	}
	return nil
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startScaleBackends starts the child process of TestSchedulerScaleBackends and returns its
// listeners' addresses, read from its first line of output (it is ready when it prints them).
func startScaleBackends(t *testing.T, n int) []netip.AddrPort {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSchedulerScaleBackends$", "-test.count=1")
	cmd.Env = append(os.Environ(), "MERIDIAN_SCHED_BACKENDS="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		addrs, ok := strings.CutPrefix(sc.Text(), "BACKENDS ")
		if !ok {
			continue
		}
		var out []netip.AddrPort
		for _, a := range strings.Fields(addrs) {
			out = append(out, netip.MustParseAddrPort(a))
		}
		go io.Copy(io.Discard, stdout)
		return out
	}
	t.Fatalf("backend process ended without listening: %v", sc.Err())
	return nil
}

// TestSchedulerScaleBackends is TestSchedulerScale's child process: n loopback listeners that
// accept and close every connection, until stdin closes. (Resetting instead would fail some
// connects with ECONNRESET before the prober saw them succeed.)
func TestSchedulerScaleBackends(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MERIDIAN_SCHED_BACKENDS"))
	if n == 0 {
		t.Skip("the child process of TestSchedulerScale")
	}
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs = append(addrs, ln.Addr().String())
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close() // a FIN: the prober answers with a reset, so neither side keeps TIME_WAIT
			}
		}()
	}
	fmt.Printf("BACKENDS %s\n", strings.Join(addrs, " "))
	io.Copy(io.Discard, os.Stdin)
}
