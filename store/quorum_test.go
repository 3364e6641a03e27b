package store

import (
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/health"
)

func TestQuorumNeed(t *testing.T) {
	tests := []struct {
		name  string
		q     Quorum
		fresh int
		want  int
	}{
		{"no fresh reports", Quorum{}, 0, 0},
		{"majority of 1", Quorum{}, 1, 1},
		{"majority of 2", Quorum{}, 2, 2},
		{"majority of 3", Quorum{}, 3, 2},
		{"majority of 4", Quorum{}, 4, 3},
		{"count 2 of 5", Quorum{Count: 2}, 5, 2},
		{"count capped at fresh", Quorum{Count: 3}, 2, 2},
		{"count wins over fraction", Quorum{Count: 1, Fraction: 0.9}, 5, 1},
		{"fraction 2/3 of 3 is exact", Quorum{Fraction: 2.0 / 3}, 3, 2},
		{"fraction rounds up", Quorum{Fraction: 0.5}, 5, 3},
		{"fraction at least 1", Quorum{Fraction: 0.01}, 3, 1},
		{"fraction over 1 capped", Quorum{Fraction: 2}, 3, 3},
		{"negative count is majority", Quorum{Count: -1}, 3, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.q.need(tc.fresh); got != tc.want {
				t.Errorf("need(%d) = %d, want %d", tc.fresh, got, tc.want)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const interval = 10 * time.Second
	fresh := now.Add(-interval)
	stale := now.Add(-3*interval - time.Nanosecond)
	edge := now.Add(-3 * interval) // exactly 3×interval old: still fresh
	rep := func(prober string, up bool, at time.Time) Report { return Report{Prober: prober, Up: up, At: at} }
	tests := []struct {
		name      string
		q         Quorum
		prev      health.State
		reports   []Report
		want      health.State
		wantFresh []bool
	}{
		{"no reports keep unknown", Quorum{}, health.Unknown, nil, health.Unknown, nil},
		{"one up", Quorum{}, health.Unknown, []Report{rep("a", true, fresh)}, health.Up, []bool{true}},
		{"partitioned prober says down, two up: stays up", Quorum{}, health.Up,
			[]Report{rep("a", true, fresh), rep("b", true, fresh), rep("c", false, fresh)}, health.Up, []bool{true, true, true}},
		{"two of three down", Quorum{}, health.Up,
			[]Report{rep("a", true, fresh), rep("b", false, fresh), rep("c", false, fresh)}, health.Down, []bool{true, true, true}},
		{"split 1/1 keeps up", Quorum{}, health.Up,
			[]Report{rep("a", true, fresh), rep("b", false, fresh)}, health.Up, []bool{true, true}},
		{"split 1/1 keeps down", Quorum{}, health.Down,
			[]Report{rep("a", true, fresh), rep("b", false, fresh)}, health.Down, []bool{true, true}},
		{"split 2/2 keeps unknown", Quorum{}, health.Unknown,
			[]Report{rep("a", true, fresh), rep("b", true, fresh), rep("c", false, fresh), rep("d", false, fresh)}, health.Unknown, []bool{true, true, true, true}},
		{"stale up does not vote", Quorum{}, health.Up,
			[]Report{rep("a", true, stale), rep("b", false, fresh)}, health.Down, []bool{false, true}},
		{"report at exactly 3 intervals votes", Quorum{}, health.Down,
			[]Report{rep("a", true, edge)}, health.Up, []bool{true}},
		{"all stale keeps up", Quorum{}, health.Up,
			[]Report{rep("a", false, stale), rep("b", false, stale)}, health.Up, []bool{false, false}},
		{"all stale keeps down", Quorum{}, health.Down,
			[]Report{rep("a", true, stale)}, health.Down, []bool{false}},
		{"count 1: one up of three is up", Quorum{Count: 1}, health.Down,
			[]Report{rep("a", true, fresh), rep("b", false, fresh), rep("c", false, fresh)}, health.Up, []bool{true, true, true}},
		{"count 3: two of three up keeps", Quorum{Count: 3}, health.Up,
			[]Report{rep("a", true, fresh), rep("b", true, fresh), rep("c", false, fresh)}, health.Up, []bool{true, true, true}},
		{"count 3 capped: two fresh down of three", Quorum{Count: 3}, health.Up,
			[]Report{rep("a", false, fresh), rep("b", false, fresh), rep("c", true, stale)}, health.Down, []bool{true, true, false}},
		{"fraction 0.75: 3 of 4 up", Quorum{Fraction: 0.75}, health.Down,
			[]Report{rep("a", true, fresh), rep("b", true, fresh), rep("c", true, fresh), rep("d", false, fresh)}, health.Up, []bool{true, true, true, true}},
		{"fraction 0.75: 2 of 4 up keeps", Quorum{Fraction: 0.75}, health.Down,
			[]Report{rep("a", true, fresh), rep("b", true, fresh), rep("c", false, fresh), rep("d", false, fresh)}, health.Down, []bool{true, true, true, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := judge(tc.prev, tc.reports, Rule{Interval: interval, Quorum: tc.q}, now)
			if v.state != tc.want {
				t.Errorf("state = %s, want %s (%s)", v.state, tc.want, v.cause)
			}
			for i, r := range tc.reports {
				if r.Fresh != tc.wantFresh[i] {
					t.Errorf("report %s fresh = %v, want %v", r.Prober, r.Fresh, tc.wantFresh[i])
				}
			}
		})
	}
}

func TestJudgeExpiry(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	reports := []Report{{Prober: "a", At: now.Add(-time.Second)}, {Prober: "b", At: now.Add(-5 * time.Second)}}
	v := judge(health.Unknown, reports, Rule{Interval: 10 * time.Second}, now)
	if want := now.Add(25 * time.Second); !v.expires.Equal(want) {
		t.Errorf("expires = %s, want %s", v.expires, want)
	}
	if v := judge(health.Unknown, reports, Rule{}, now); !v.expires.IsZero() || v.fresh != 2 {
		t.Errorf("zero interval: expires = %s, fresh = %d, want never and 2", v.expires, v.fresh)
	}
}

// TestUndecidedReportsDoNotVote: a prober whose target has not risen or fallen yet keeps its
// report fresh but casts no vote, so a cold start never reads as a vote for down.
func TestUndecidedReportsDoNotVote(t *testing.T) {
	now := time.Unix(1000, 0)
	r := Rule{Interval: time.Second}
	reports := []Report{
		{Prober: "a", Undecided: true, At: now},
		{Prober: "b", Undecided: true, At: now},
		{Prober: "c", Up: true, At: now},
	}
	v := judge(health.Unknown, reports, r, now)
	if v.state != health.Up || v.fresh != 1 || v.need != 1 {
		t.Errorf("one decided up and two undecided: state %s fresh %d need %d, want up, 1, 1", v.state, v.fresh, v.need)
	}
	v = judge(health.Unknown, reports[:2], r, now)
	if v.state != health.Unknown || !reports[0].Fresh {
		t.Errorf("only undecided reports: state %s (fresh %v), want unknown and the reports fresh", v.state, reports[0].Fresh)
	}
}
