package store

import (
	"fmt"
	"math"
	"time"

	"github.com/meridian-gslb/meridian/health"
)

// Rule says how one target's observations are judged; SetRules gives one per target.
type Rule struct {
	// Interval is the monitor's probe interval. A report older than 3×Interval is stale and
	// does not vote. Zero or negative: reports never go stale (config validation forbids it).
	Interval time.Duration
	Quorum   Quorum
}

// Quorum is how many fresh reports must agree. The zero value means a majority of the
// probers with fresh reports. Count > 0 means at least Count; otherwise Fraction > 0 means at
// least ceil(Fraction × fresh). Either is capped at the number of fresh reports, so probers
// that went stale never block a decision, and is at least 1.
type Quorum struct {
	Count    int
	Fraction float64
}

func (q Quorum) need(fresh int) int {
	if fresh <= 0 {
		return 0
	}
	n := fresh/2 + 1
	switch {
	case q.Count > 0:
		n = q.Count
	case q.Fraction > 0:
		n = int(math.Ceil(q.Fraction*float64(fresh) - 1e-9)) // 2/3 × 3 is 2, not 3
	}
	return min(max(n, 1), fresh)
}

// staleAfter is how old a report may be and still vote.
func (r Rule) staleAfter() time.Duration {
	if r.Interval <= 0 {
		return math.MaxInt64
	}
	return 3 * r.Interval
}

// verdict is one evaluation of a target's reports.
type verdict struct {
	state             health.State
	fresh, ups, downs int
	need              int
	stale             int
	expires           time.Time // when the first fresh report goes stale; zero if none
	cause             string
}

// judge marks each report fresh or stale at now (in place: the caller owns reports) and returns
// the aggregate. Up when at least need(fresh) fresh reports say up; else Down when at least
// that many say down; else (a split, or no fresh report at all) the previous state stays, so a
// prober that dies, or a partition that splits the votes, never flips a target by itself.
func judge(prev health.State, reports []Report, r Rule, now time.Time) verdict {
	var v verdict
	maxAge := r.staleAfter()
	for i := range reports {
		rp := &reports[i]
		age := now.Sub(rp.At)
		rp.Fresh = age <= maxAge
		if !rp.Fresh {
			v.stale++
			continue
		}
		if maxAge != math.MaxInt64 {
			if exp := rp.At.Add(maxAge); v.expires.IsZero() || exp.Before(v.expires) {
				v.expires = exp
			}
		}
		if rp.Undecided {
			continue // fresh, but the prober has not risen or fallen yet: no vote
		}
		v.fresh++
		if rp.Up {
			v.ups++
		} else {
			v.downs++
		}
	}
	v.need = r.Quorum.need(v.fresh)
	v.state = prev
	switch {
	case v.fresh == 0:
	case v.ups >= v.need:
		v.state = health.Up
	case v.downs >= v.need:
		v.state = health.Down
	}
	v.cause = fmt.Sprintf("quorum: %d of %d fresh reports up, %d down (need %d", v.ups, v.fresh, v.downs, v.need)
	if v.stale > 0 {
		v.cause += fmt.Sprintf("; %d stale", v.stale)
	}
	v.cause += ")"
	return v
}
