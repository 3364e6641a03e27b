package store

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/meridian-gslb/meridian/health"
	bolt "go.etcd.io/bbolt"
)

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// open opens path (a fresh state.db under t.TempDir() when "") and closes it at cleanup.
func open(t *testing.T, path string, o Options) *Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "state.db")
	}
	s, err := Open(path, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func record(t *testing.T, s *Store, target, prober string, up bool, at time.Time) {
	t.Helper()
	if err := s.Record(context.Background(), health.Observation{Target: target, Prober: prober, Up: up, At: at}); err != nil {
		t.Fatalf("record %s/%s: %v", target, prober, err)
	}
}

const interval = 10 * time.Second

var majority = map[string]Rule{"web": {Interval: interval}}

// A partitioned prober that reports down while two report up leaves the target up; a
// second prober agreeing takes it down; an override wins over both.
func TestRecordAggregates(t *testing.T) {
	clk := newClock()
	s := open(t, "", Options{Now: clk.Now})
	s.SetRules(majority)
	steps := []struct {
		name   string
		prober string
		up     bool
		want   health.State
	}{
		{"first report up", "a", true, health.Up},
		{"second up", "b", true, health.Up},
		{"partitioned prober says down", "c", false, health.Up},
		{"second prober says down", "b", false, health.Down},
		{"one comes back: 2 of 3 up", "c", true, health.Up},
	}
	for _, st := range steps {
		record(t, s, "web", st.prober, st.up, clk.Now())
		if got := s.View().State("web"); got != st.want {
			t.Fatalf("%s: state = %s, want %s (%s)", st.name, got, st.want, s.View().Target("web").Cause)
		}
		clk.Add(time.Second)
	}
	if got := s.View().State("never-seen"); got != health.Unknown {
		t.Errorf("never seen: state = %s, want unknown", got)
	}
	ts := s.View().Target("web")
	if len(ts.Reports) != 3 || ts.Need != 2 || !ts.Ruled {
		t.Errorf("evidence = %+v, want 3 reports, need 2, ruled", ts)
	}
}

func TestStalenessWithoutNewReports(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := open(t, "", Options{})
		s.SetRules(majority)
		record(t, s, "web", "a", true, time.Now())
		record(t, s, "web", "b", false, time.Now())
		record(t, s, "web", "c", false, time.Now())
		if got := s.View().State("web"); got != health.Down {
			t.Fatalf("state = %s, want down", got)
		}
		time.Sleep(2 * interval)
		record(t, s, "web", "a", true, time.Now()) // b and c go stale at 30s, a stays fresh

		time.Sleep(interval + time.Second) // the ticker alone must notice
		synctest.Wait()
		ts := s.View().Target("web")
		if ts.State != health.Up {
			t.Errorf("after b, c went stale: state = %s, want up (%s)", ts.State, ts.Cause)
		}
		fresh := map[string]bool{}
		for _, r := range ts.Reports {
			fresh[r.Prober] = r.Fresh
		}
		if want := map[string]bool{"a": true, "b": false, "c": false}; !reflect.DeepEqual(fresh, want) {
			t.Errorf("fresh = %v, want %v", fresh, want)
		}

		time.Sleep(3 * interval) // a goes stale too: nobody votes, the state stays
		synctest.Wait()
		ts = s.View().Target("web")
		if ts.State != health.Up || ts.Need != 0 || ts.Reports[0].Fresh {
			t.Errorf("all stale: state = %s need = %d a fresh = %v, want up, 0, false", ts.State, ts.Need, ts.Reports[0].Fresh)
		}
	})
}

func TestOverridesWinAndPersist(t *testing.T) {
	tests := []struct {
		name     string
		observed bool
		kind     OverrideKind
		want     health.State
	}{
		{"drain an up target", true, Drain, health.Down},
		{"force down an up target", true, ForceDown, health.Down},
		{"force up a down target", false, ForceUp, health.Up},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			path := filepath.Join(t.TempDir(), "state.db")
			s, err := Open(path, Options{Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			s.SetRules(majority)
			record(t, s, "web", "a", tc.observed, clk.Now())
			o := Override{Kind: tc.kind, Who: "ana", Why: "kernel upgrade"}
			if err := s.SetOverride("web", o); err != nil {
				t.Fatal(err)
			}
			record(t, s, "web", "a", tc.observed, clk.Now()) // reports do not undo it
			if got := s.View().State("web"); got != tc.want {
				t.Fatalf("state = %s, want %s", got, tc.want)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			s = open(t, path, Options{Now: clk.Now})
			ts := s.View().Target("web")
			if ts.State != tc.want || ts.Override.Kind != tc.kind || ts.Override.Who != "ana" || !ts.Override.At.Equal(clk.Now()) {
				t.Fatalf("after reopen: state = %s override = %+v, want %s %s by ana at %s", ts.State, ts.Override, tc.want, tc.kind, clk.Now())
			}
			s.SetRules(majority)
			if got := s.View().State("web"); got != tc.want {
				t.Fatalf("after reopen and rules: state = %s, want %s", got, tc.want)
			}
			if err := s.ClearOverride("web"); err != nil {
				t.Fatal(err)
			}
			want := health.Down
			if tc.observed {
				want = health.Up
			}
			if got := s.View().State("web"); got != want {
				t.Errorf("cleared: state = %s, want %s", got, want)
			}
		})
	}
}

// An override on a target with no rule still wins; without one the target is Unknown.
func TestUnruledTargets(t *testing.T) {
	s := open(t, "", Options{})
	record(t, s, "old", "a", false, time.Time{})
	s.SetRules(map[string]Rule{})
	if got := s.View().State("old"); got != health.Unknown {
		t.Errorf("no rule: state = %s, want unknown", got)
	}
	if err := s.SetOverride("old", Override{Kind: Drain}); err != nil {
		t.Fatal(err)
	}
	if got := s.View().State("old"); got != health.Down {
		t.Errorf("drained without a rule: state = %s, want down", got)
	}
}

func TestReopenServesPersistedState(t *testing.T) {
	clk := newClock()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]Rule{"web": {Interval: interval}, "api": {Interval: interval, Quorum: Quorum{Count: 1}}, "db": {Interval: interval}}
	s.SetRules(rules)
	record(t, s, "web", "a", true, clk.Now())
	record(t, s, "web", "b", true, clk.Now())
	record(t, s, "api", "a", false, clk.Now())
	if err := s.SetOverride("db", Override{Kind: Drain, Who: "ana"}); err != nil {
		t.Fatal(err)
	}
	before := s.View()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path, Options{Now: clk.Now})
	for _, id := range []string{"web", "api", "db", "nope"} {
		if got, want := s.View().State(id), before.State(id); got != want {
			t.Errorf("cold %s: state = %s, want %s (persisted)", id, got, want)
		}
	}
	s.SetRules(rules)
	after := s.View()
	if got, want := after.Targets(), before.Targets(); !reflect.DeepEqual(got, want) {
		t.Fatalf("targets = %v, want %v", got, want)
	}
	for _, id := range before.Targets() {
		if got, want := after.Target(id), before.Target(id); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", id, got, want)
		}
	}

	// Much later, every report is stale: the persisted aggregate is still what is served.
	clk.Add(time.Hour)
	s.Close()
	s = open(t, path, Options{Now: clk.Now})
	s.SetRules(rules)
	ts := s.View().Target("web")
	if ts.State != health.Up || ts.Reports[0].Fresh || !ts.Since.Equal(before.Target("web").Since) {
		t.Errorf("stale after restart: %+v, want up since %s with stale reports", ts, before.Target("web").Since)
	}
	if got := s.View().State("api"); got != health.Down {
		t.Errorf("stale after restart: api = %s, want down", got)
	}
}

func TestOlderReportIgnored(t *testing.T) {
	clk := newClock()
	s := open(t, "", Options{Now: clk.Now})
	s.SetRules(majority)
	record(t, s, "web", "a", true, clk.Now())
	record(t, s, "web", "a", false, clk.Now().Add(-time.Second)) // late delivery from a peer
	if got := s.View().State("web"); got != health.Up {
		t.Errorf("state = %s, want up", got)
	}
}

func TestStaleCheckWithFakeClock(t *testing.T) {
	clk := newClock()
	s := open(t, "", Options{Now: clk.Now})
	s.SetRules(majority)
	record(t, s, "web", "a", false, clk.Now())
	record(t, s, "web", "b", true, clk.Now().Add(-25*time.Second))
	// 1 of 2 fresh up: split, stays at a's first verdict.
	if got := s.View().State("web"); got != health.Down {
		t.Fatalf("state = %s, want down", got)
	}
	clk.Add(6 * time.Second)
	if err := s.check(); err != nil {
		t.Fatal(err)
	}
	if ts := s.View().Target("web"); ts.Need != 1 || ts.Reports[1].Fresh {
		t.Errorf("after b went stale: need = %d b fresh = %v, want 1, false", ts.Need, ts.Reports[1].Fresh)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Run("lock held by another open", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.db")
		open(t, path, Options{})
		start := time.Now()
		_, err := Open(path, Options{Timeout: 100 * time.Millisecond})
		if err == nil || !strings.Contains(err.Error(), "another process has the file") {
			t.Fatalf("err = %v, want one saying another process has the file", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("took %s, want about the 100ms timeout", d)
		}
	})
	t.Run("newer schema version", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.db")
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, schemaVersion+1))
		})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		_, err = Open(path, Options{})
		if err == nil || !strings.Contains(err.Error(), "schema version 2 is newer than this binary's 1") {
			t.Fatalf("err = %v, want a newer schema version error", err)
		}
	})
}

func TestRecordRejects(t *testing.T) {
	s := open(t, "", Options{})
	tests := []struct {
		name string
		o    health.Observation
	}{
		{"no target", health.Observation{Prober: "a"}},
		{"no prober", health.Observation{Target: "web"}},
		{"NUL in target", health.Observation{Target: "w\x00b", Prober: "a"}},
		{"target longer than a bbolt key", health.Observation{Target: strings.Repeat("w", 40000), Prober: "a"}},
		{"prober too long", health.Observation{Target: "web", Prober: strings.Repeat("a", maxIDLen+1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Record(context.Background(), tc.o); err == nil {
				t.Error("err = nil, want an error")
			}
		})
	}
	s.Close()
	if err := s.Record(context.Background(), health.Observation{Target: "web", Prober: "a"}); err != ErrClosed {
		t.Errorf("after close: err = %v, want ErrClosed", err)
	}
	if s.View() == nil {
		t.Error("after close: View = nil, want the last snapshot")
	}
}
