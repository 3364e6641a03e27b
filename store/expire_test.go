package store

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	bolt "go.etcd.io/bbolt"
)

// probers lists target's reports' probers in the current View.
func probers(s *Store, target string) []string {
	var out []string
	for _, r := range s.View().Target(target).Reports {
		out = append(out, r.Prober)
	}
	return out
}

// TestReportsExpire: a made-up prober's reports, on a real target and on a made-up one, are
// deleted by the committer's own sweep once they are older than the expiry; the made-up target
// leaves the View; a report that still votes under a long-interval rule is kept; and none of
// the deleted rows comes back when the file is opened again.
func TestReportsExpire(t *testing.T) {
	clk := newClock()
	path := filepath.Join(t.TempDir(), "state.db")
	reg := prometheus.NewRegistry()
	s, err := Open(path, Options{Now: clk.Now, ReportExpiry: 5 * time.Minute, CheckInterval: 5 * time.Millisecond, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	s.SetRules(map[string]Rule{"web": {Interval: interval}, "slow": {Interval: 10 * time.Minute}})
	start := clk.Now()
	record(t, s, "web", "a", true, start)
	record(t, s, "web", "ghost", true, start)
	record(t, s, "made-up/1", "ghost", true, start)
	record(t, s, "slow", "a", true, start)
	clk.Add(3 * time.Minute)
	record(t, s, "web", "a", true, clk.Now()) // a keeps reporting; ghost went away
	if got := probers(s, "web"); !slices.Equal(got, []string{"a", "ghost"}) {
		t.Fatalf("before the expiry: web reports from %v, want [a ghost]", got)
	}

	clk.Add(3 * time.Minute) // ghost's reports are 6 minutes old
	deadline := time.Now().Add(5 * time.Second)
	for slices.Contains(s.View().Targets(), "made-up/1") { // the ticker sweeps by itself
		if time.Now().After(deadline) {
			t.Fatalf("made-up target still listed 5s after its report expired: %v", s.View().Targets())
		}
		time.Sleep(5 * time.Millisecond)
	}
	check := func(when string) {
		t.Helper()
		if got, want := s.View().Targets(), []string{"slow", "web"}; !slices.Equal(got, want) {
			t.Errorf("%s: targets = %v, want %v", when, got, want)
		}
		if got := probers(s, "web"); !slices.Equal(got, []string{"a"}) {
			t.Errorf("%s: web reports from %v, want [a]", when, got)
		}
		if got := probers(s, "slow"); !slices.Equal(got, []string{"a"}) {
			t.Errorf("%s: slow reports from %v, want [a] (6 minutes old, but fresh for 30)", when, got)
		}
	}
	check("after the sweep")
	if got := testutil.ToFloat64(s.m.expiredReports); got != 2 {
		t.Errorf("meridian_store_expired_reports_total = %v, want 2", got)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketObs).ForEach(func(k, _ []byte) error {
			target, prober, _ := splitObsKey(k)
			rows = append(rows, target+" "+prober)
			return nil
		})
	})
	db.Close()
	if want := []string{"slow a", "web a"}; !slices.Equal(rows, want) {
		t.Errorf("obs rows on disk = %q, want %q", rows, want)
	}
	if s, err = Open(path, Options{Now: clk.Now, ReportExpiry: 5 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	check("after Close and Open")
}

// TestSweepKeepsOverridesAndState: a target without a rule stays in the View while it has an
// override or a persisted state, after its reports expired; reports newer than the expiry
// stay; a negative expiry keeps everything.
func TestSweepKeepsOverridesAndState(t *testing.T) {
	clk := newClock()
	s := open(t, "", Options{Now: clk.Now, ReportExpiry: time.Minute})
	s.SetRules(map[string]Rule{"web": {Interval: interval}})
	record(t, s, "web", "old", true, clk.Now())
	record(t, s, "drained", "old", true, clk.Now())
	if err := s.SetOverride("drained", Override{Kind: Drain, Who: "ops"}); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Minute)
	record(t, s, "web", "new", true, clk.Now().Add(-30*time.Second))
	if err := s.sweep(); err != nil {
		t.Fatal(err)
	}
	if got, want := s.View().Targets(), []string{"drained", "web"}; !slices.Equal(got, want) {
		t.Errorf("targets = %v, want %v", got, want)
	}
	if got := probers(s, "web"); !slices.Equal(got, []string{"new"}) {
		t.Errorf("web reports from %v, want [new]", got)
	}
	if got := probers(s, "drained"); len(got) != 0 {
		t.Errorf("drained reports from %v, want none", got)
	}

	never := open(t, "", Options{Now: clk.Now, ReportExpiry: -1})
	never.SetRules(map[string]Rule{})
	record(t, never, "made-up", "ghost", true, clk.Now().Add(-24*time.Hour))
	if err := never.sweep(); err != nil {
		t.Fatal(err)
	}
	if got := probers(never, "made-up"); !slices.Equal(got, []string{"ghost"}) {
		t.Errorf("with a negative expiry: reports from %v, want [ghost]", got)
	}
}
