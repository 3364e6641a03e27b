package store

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	clk := newClock()
	reg := prometheus.NewRegistry()
	s := open(t, "", Options{Now: clk.Now, Registerer: reg})
	s.SetRules(map[string]Rule{"up": {Interval: interval}, "down": {Interval: interval}, "new": {Interval: interval}})
	record(t, s, "up", "a", true, clk.Now())
	record(t, s, "up", "b", true, clk.Now().Add(-20*time.Second))
	record(t, s, "down", "a", false, clk.Now())
	record(t, s, "gone", "a", false, clk.Now()) // no rule: not exported

	clk.Add(15 * time.Second) // b's report goes stale
	if err := s.check(); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(s.m.staleReports); got != 1 {
		t.Errorf("stale reports = %v, want 1", got)
	}
	want := `
# HELP meridian_health_target_up State policies see per target: 1 up, 0 down, -1 unknown.
# TYPE meridian_health_target_up gauge
meridian_health_target_up{target="down"} 0
meridian_health_target_up{target="new"} -1
meridian_health_target_up{target="up"} 1
# HELP meridian_health_transitions_total Changes of the state policies see, by the state changed to.
# TYPE meridian_health_transitions_total counter
meridian_health_transitions_total{to="down"} 1
meridian_health_transitions_total{to="unknown"} 0
meridian_health_transitions_total{to="up"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "meridian_health_target_up", "meridian_health_transitions_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "meridian_store_commit_duration_seconds"); err != nil || n != 1 {
		t.Errorf("commit duration series = %d (%v), want 1", n, err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
	if problems, err := testutil.CollectAndLint(targetUp{s}); err != nil || len(problems) > 0 {
		t.Errorf("lint target_up: %v %v", problems, err)
	}
}
