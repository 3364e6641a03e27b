package store

import (
	"slices"
	"time"
)

// sweepEvery is how often the committer's ticker deletes expired reports (by the store's
// clock, checked at every CheckInterval tick).
const sweepEvery = time.Minute

// sweepDue says whether the ticker's commit at now should sweep: rules are set (a report's
// rule decides whether it still votes), reports expire, and the last sweep is a minute old.
func (s *Store) sweepDue(now time.Time) bool {
	return s.rules != nil && s.o.ReportExpiry > 0 && !now.Before(s.nextSweep)
}

// expire removes the reports expired at now from c's entries and queues their rows for
// deletion; it returns how many. The committer calls it with the rules set.
func (s *Store) expire(c *change, now time.Time) int {
	if s.o.ReportExpiry <= 0 {
		return 0
	}
	n := 0
	sweep := func(id string, e *entry) {
		rule, ruled := s.rules[id]
		isExpired := func(r Report) bool { return s.expired(r, rule, ruled, now) }
		if !slices.ContainsFunc(e.ts.Reports, isExpired) {
			return
		}
		e = c.edit(id) // a copy unless this commit already edits it
		e.ts.Reports = slices.DeleteFunc(e.ts.Reports, func(r Report) bool {
			if !isExpired(r) {
				return false
			}
			c.dels = append(c.dels, obsKey(id, r.Prober))
			n++
			return true
		})
	}
	for id, e := range c.edits {
		sweep(id, e)
	}
	for id, e := range c.base.targets.all {
		if c.edits[id] == nil {
			sweep(id, e)
		}
	}
	return n
}

// expired says whether r, on a target with rule (when ruled), is past the report expiry. A
// report that still votes under the rule is not, however old: a monitor whose interval is
// longer than the expiry keeps its prober's reports.
func (s *Store) expired(r Report, rule Rule, ruled bool, now time.Time) bool {
	age := now.Sub(r.At)
	return age > s.o.ReportExpiry && (!ruled || age > rule.staleAfter())
}
