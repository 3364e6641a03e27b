package store

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/health"
)

// flips records one prober's alternating up/down reports for each target, one second apart,
// so that every report is a transition (the first from unknown), and returns the start time.
func flips(t *testing.T, s *Store, clk *clock, n int, targets ...string) time.Time {
	t.Helper()
	start := clk.Now()
	for i := range n {
		for _, id := range targets {
			record(t, s, id, "p", i%2 == 0, clk.Now())
			clk.Add(time.Second)
		}
	}
	return start
}

func seqs(evs []Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

func TestEvents(t *testing.T) {
	clk := newClock()
	s := open(t, "", Options{Now: clk.Now})
	s.SetRules(map[string]Rule{"a": {Interval: time.Hour}, "b": {Interval: time.Hour}})
	start := flips(t, s, clk, 5, "a", "b") // 10 events: a at start+0,2,4…; b at start+1,3,5…

	all, err := s.Events(EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := seqs(all), []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}; !reflect.DeepEqual(got, want) {
		t.Fatalf("seqs = %v, want %v", got, want)
	}
	if e := all[0]; e.Target != "a" || e.From != health.Unknown || e.To != health.Up || !e.At.Equal(start) || e.Cause == "" {
		t.Errorf("first event = %+v, want a unknown→up at %s with a cause", e, start)
	}
	if e := all[3]; e.Target != "b" || e.From != health.Up || e.To != health.Down {
		t.Errorf("fourth event = %+v, want b up→down", e)
	}
	for i := 1; i < len(all); i++ {
		if all[i].At.Before(all[i-1].At) {
			t.Errorf("event %d at %s is before event %d at %s", all[i].Seq, all[i].At, all[i-1].Seq, all[i-1].At)
		}
	}

	tests := []struct {
		name string
		q    EventQuery
		want []uint64
	}{
		{"by target", EventQuery{Target: "b"}, []uint64{2, 4, 6, 8, 10}},
		{"since", EventQuery{Since: start.Add(7 * time.Second)}, []uint64{8, 9, 10}},
		{"until is exclusive", EventQuery{Until: start.Add(2 * time.Second)}, []uint64{1, 2}},
		{"target and range", EventQuery{Target: "a", Since: start.Add(time.Second), Until: start.Add(6 * time.Second)}, []uint64{3, 5}},
		{"first page", EventQuery{Limit: 3}, []uint64{1, 2, 3}},
		{"next page", EventQuery{Limit: 3, After: 3}, []uint64{4, 5, 6}},
		{"filtered page", EventQuery{Target: "a", Limit: 2, After: 3}, []uint64{5, 7}},
		{"past the end", EventQuery{After: 10}, nil},
		{"newest first", EventQuery{Reverse: true, Limit: 3}, []uint64{10, 9, 8}},
		{"older page", EventQuery{Reverse: true, Limit: 3, After: 8}, []uint64{7, 6, 5}},
		{"reverse from beyond the end", EventQuery{Reverse: true, Limit: 2, After: 99}, []uint64{10, 9}},
		{"reverse by target", EventQuery{Reverse: true, Target: "b", Limit: 2, After: 8}, []uint64{6, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Events(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(seqs(got), tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("seqs = %v, want %v", seqs(got), tc.want)
			}
		})
	}

	t.Run("pages add up to all", func(t *testing.T) {
		var paged []Event
		q := EventQuery{Limit: 4}
		for {
			page, err := s.Events(q)
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, page...)
			if len(page) < q.Limit {
				break
			}
			q.After = page[len(page)-1].Seq
		}
		if !reflect.DeepEqual(paged, all) {
			t.Errorf("paged = %v, want %v", seqs(paged), seqs(all))
		}
	})
}

func TestEventRetention(t *testing.T) {
	clk := newClock()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path, Options{Now: clk.Now, Retention: 5})
	if err != nil {
		t.Fatal(err)
	}
	s.SetRules(majority)
	flips(t, s, clk, 8, "web")
	got, err := s.Events(EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{4, 5, 6, 7, 8}; !reflect.DeepEqual(seqs(got), want) {
		t.Errorf("kept = %v, want %v", seqs(got), want)
	}
	s.Close()

	// The count of kept events survives a reopen, and sequence numbers keep rising.
	s = open(t, path, Options{Now: clk.Now, Retention: 5})
	s.SetRules(majority)
	flips(t, s, clk, 2, "web") // up then down: two more events after the persisted down
	got, err = s.Events(EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{6, 7, 8, 9, 10}; !reflect.DeepEqual(seqs(got), want) {
		t.Errorf("after reopen kept = %v, want %v", seqs(got), want)
	}
}
