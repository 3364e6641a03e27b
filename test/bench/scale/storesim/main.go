// Command storesim measures the state file (bbolt, store package) after a simulated day:
// -targets endpoints, each reported on by -probers probers, of which a fraction -flap flaps
// (up for one -flap-period, down for the next), through store.Store itself on a simulated
// clock (store.Options.Now). Simulated time advances by -step; at each step the flapping
// targets whose state is due to change get an observation with their new state, and every
// target's reports are renewed once per -refresh (spread evenly over the steps), so they stay
// fresh (the rule's interval is -refresh, see below) and are never expired.
//
// A node writes every probe's observation (health.Scheduler records after each probe), so a
// real day at a 10 s interval is targets × probers × 8,640 writes; -refresh trades that rate for
// run time. Rows are overwritten in place (one per target and prober), so what the file keeps
// is set by the number of rows, the bounded event history (store.Options.Retention) and
// bbolt's free pages, not by the write count; the hourly sizes printed show whether it settles.
//
//	go run ./test/bench/scale/storesim [-o DIR] [-targets 100000] [-probers 1] [-flap 0.03] [-hours 24]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/store"
)

func main() {
	dir := flag.String("o", "", "directory for state.db (default: a new temp dir, removed at exit)")
	targets := flag.Int("targets", 100000, "monitored targets")
	probers := flag.Int("probers", 1, "probers reporting on every target (the node's own + remote)")
	flap := flag.Float64("flap", 0.03, "fraction of the targets that flap")
	flapPeriod := flag.Duration("flap-period", 10*time.Minute, "a flapping target is down this long, then up as long")
	hours := flag.Int("hours", 24, "simulated hours")
	step := flag.Duration("step", time.Minute, "simulated time per step")
	refresh := flag.Duration("refresh", 30*time.Minute, "every report is renewed once per this (simulated)")
	writers := flag.Int("writers", 2048, "concurrent Record calls (the store commits up to 1024 per transaction)")
	maxWall := flag.Duration("max", 30*time.Minute, "stop after this much wall time in any case")
	flag.Parse()
	if err := run(*dir, *targets, *probers, *flap, *flapPeriod, *hours, *step, *refresh, *writers, *maxWall); err != nil {
		fmt.Fprintln(os.Stderr, "storesim:", err)
		os.Exit(1)
	}
}

func run(dir string, targets, probers int, flap float64, flapPeriod time.Duration, hours int, step, refresh time.Duration,
	writers int, maxWall time.Duration) error {
	if targets < 1 || probers < 1 || hours < 1 || step <= 0 || refresh < step || flapPeriod < step || writers < 1 {
		return fmt.Errorf("want -targets, -probers, -hours, -writers >= 1 and -refresh, -flap-period >= -step > 0")
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "meridian-storesim.")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	path := filepath.Join(dir, "state.db")
	os.Remove(path)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var simNanos atomic.Int64
	now := func() time.Time { return start.Add(time.Duration(simNanos.Load())) }
	st, err := store.Open(path, store.Options{Now: now})
	if err != nil {
		return err
	}
	ids := make([]string, targets)
	rules := make(map[string]store.Rule, targets)
	for i := range ids {
		ids[i] = fmt.Sprintf("p%04d/127.%d.%d.%d", i/100, (i+65536)>>16, ((i+65536)>>8)&255, (i+65536)&255)
		rules[ids[i]] = store.Rule{Interval: refresh} // reports renewed every refresh stay fresh (3 × interval)
	}
	names := make([]string, probers)
	for p := range names {
		names[p] = "scale"
		if p > 0 {
			names[p] = fmt.Sprintf("prober-%02d", p)
		}
	}
	st.SetRules(rules)

	type job struct {
		target, prober string
		up             bool
	}
	jobs := make(chan job, writers)
	var wg sync.WaitGroup
	var writes, failed atomic.Int64
	ctx := context.Background()
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				o := health.Observation{Target: j.target, Prober: j.prober, Up: j.up, RTT: 300 * time.Microsecond, At: now()}
				if !j.up {
					o.Err = "connect: connection refused"
				}
				if err := st.Record(ctx, o); err != nil {
					failed.Add(1)
				} else {
					writes.Add(1)
				}
			}
		}()
	}
	nFlap := int(float64(targets) * flap)
	flapEvery := max(targets/max(nFlap, 1), 1) // flapping targets spread over the ID space
	isFlapper := func(i int) bool { return nFlap > 0 && i%flapEvery == 0 && i/flapEvery < nFlap }
	state := func(i int, t time.Duration) bool { // up?
		if !isFlapper(i) {
			return true
		}
		phase := time.Duration(i) * 7919 * time.Second % (2 * flapPeriod) // flappers out of phase
		return (t+phase)/flapPeriod%2 == 0
	}
	steps := int(time.Duration(hours) * time.Hour / step)
	perRefresh := int(refresh / step)
	wall := time.Now()
	fmt.Printf("storesim: %d targets x %d probers, %d flapping every %s, %d h in steps of %s, reports renewed every %s\n",
		targets, probers, nFlap, flapPeriod, hours, step, refresh)
	fmt.Printf("%6s %12s %12s %10s %12s\n", "sim_h", "file_bytes", "writes", "wall_s", "writes_per_s")
	record := func(i int, up bool) {
		for _, p := range names {
			jobs <- job{ids[i], p, up}
		}
	}
	lastWrites, lastWall := int64(0), time.Now()
	stopped := false
	for s := 1; s <= steps; s++ {
		t := time.Duration(s) * step
		simNanos.Store(int64(t))
		slot := s % perRefresh
		for i := range targets {
			prev, up := state(i, t-step), state(i, t)
			if prev != up || i%perRefresh == slot {
				record(i, up)
			}
		}
		if t%time.Hour == 0 || s == steps {
			// wait for the queue to drain, so the size reflects this hour's writes
			for len(jobs) > 0 {
				time.Sleep(10 * time.Millisecond)
			}
			fi, err := os.Stat(path)
			if err != nil {
				return err
			}
			w := writes.Load()
			el := time.Since(lastWall).Seconds()
			fmt.Printf("%6.1f %12d %12d %10.1f %12.0f\n", t.Hours(), fi.Size(), w, time.Since(wall).Seconds(), float64(w-lastWrites)/el)
			lastWrites, lastWall = w, time.Now()
		}
		if time.Since(wall) > maxWall {
			fmt.Printf("storesim: stopped after %s of wall time at simulated %s (-max)\n", maxWall, t)
			stopped = true
			break
		}
	}
	close(jobs)
	wg.Wait()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if err := st.Close(); err != nil {
		return err
	}
	return report(path, writes.Load(), failed.Load(), time.Since(wall), stopped, ms.HeapInuse)
}

// report prints the file's size, what it holds (bbolt's own accounting) and what a compaction
// would leave.
func report(path string, writes, failed int64, took time.Duration, stopped bool, heap uint64) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second}) // read-write: the freelist is loaded
	if err != nil {
		return err
	}
	var lines []string
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			s := b.Stats()
			lines = append(lines, fmt.Sprintf("  bucket %-10s keys=%d leaf_pages=%d branch_pages=%d leaf_inuse_bytes=%d",
				name, s.KeyN, s.LeafPageN, s.BranchPageN, s.LeafInuse))
			return nil
		})
	})
	st := db.Stats()
	db.Close()
	if err != nil {
		return err
	}
	compacted := path + ".compact"
	os.Remove(compacted)
	defer os.Remove(compacted)
	src, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	dst, err := bolt.Open(compacted, 0o600, nil)
	if err != nil {
		src.Close()
		return err
	}
	err = bolt.Compact(dst, src, 64<<20)
	src.Close()
	dst.Close()
	if err != nil {
		return err
	}
	ci, err := os.Stat(compacted)
	if err != nil {
		return err
	}
	fmt.Printf("storesim: writes=%d failed=%d wall=%.1fs (%.0f writes/s) stopped_early=%v heap_inuse=%d\n",
		writes, failed, took.Seconds(), float64(writes)/took.Seconds(), stopped, heap)
	for _, l := range lines {
		fmt.Println(l)
	}
	fmt.Printf("storesim: file_bytes=%d free_pages=%d pending_pages=%d freelist_bytes=%d compacted_bytes=%d\n",
		fi.Size(), st.FreePageN, st.PendingPageN, st.FreelistInuse, ci.Size())
	return nil
}
