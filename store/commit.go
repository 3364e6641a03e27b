package store

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/meridian-gslb/meridian/health"
	bolt "go.etcd.io/bbolt"
)

// change is what one commit does to the current View: copies of the entries it touches.
type change struct {
	base  *View
	edits map[string]*entry
	obs   []obsWrite
	ovs   map[string]Override
	dels  [][]byte // obs rows of expired reports, deleted after obs are written
}

type obsWrite struct {
	target string
	r      Report
}

type transition struct {
	Event
	masked bool // the aggregate changed under an override: logged, not an event
}

func (c *change) edit(id string) *entry {
	if e := c.edits[id]; e != nil {
		return e
	}
	e := &entry{ts: TargetState{Target: id}}
	if b := c.base.targets.get(id); b != nil {
		e = b.clone()
	}
	c.edits[id] = e
	return e
}

// commit applies reqs (none: the ticker's staleness check, and a sweep of expired reports
// when one is due) in one transaction, publishes the new View once it has committed, and
// answers every request.
func (s *Store) commit(reqs []*request) {
	now := s.o.Now().UTC()
	c := &change{base: s.view.Load(), edits: map[string]*entry{}, ovs: map[string]Override{}}
	full := s.dirty
	sweep := len(reqs) == 0 && s.sweepDue(now)
	for _, r := range reqs {
		switch r.kind {
		case reqObs:
			if r.obs.At.IsZero() {
				r.obs.At = now
			}
			if c.edit(r.target).setReport(r.obs) {
				c.obs = append(c.obs, obsWrite{r.target, r.obs})
			}
		case reqOverride:
			if r.ov.Kind != None && r.ov.At.IsZero() {
				r.ov.At = now
			}
			c.edit(r.target).ts.Override = r.ov
			c.ovs[r.target] = r.ov
		case reqRules:
			s.rules, full = r.rules, true
		case reqCheck:
			full = true
		case reqSweep:
			sweep = true
		}
	}
	expired := 0
	if sweep && s.rules != nil {
		s.nextSweep = now.Add(sweepEvery)
		expired = s.expire(c, now)
	}
	switch {
	case full:
		for id := range c.base.targets.all {
			c.edit(id)
		}
		for id := range s.rules {
			c.edit(id)
		}
	case len(reqs) == 0: // the ticker: re-judge the targets whose fresh reports went stale
		for id, e := range c.base.targets.all {
			if !e.expires.IsZero() && now.After(e.expires) {
				c.edit(id)
			}
		}
	}
	if len(c.edits) == 0 && c.base.ruled == (s.rules != nil) {
		s.dirty = false
		reply(reqs, nil)
		return
	}

	trs, states := s.evaluate(c, now)
	if len(c.obs)+len(c.ovs)+len(states)+len(c.dels) > 0 {
		start := time.Now()
		deleted := 0
		err := s.db.Update(func(tx *bolt.Tx) error {
			var err error
			deleted, err = s.unsafeWrite(tx, c, states, trs)
			return err
		})
		s.m.commitDuration.Observe(time.Since(start).Seconds())
		if err != nil {
			err = fmt.Errorf("commit to %s: %w", s.path, err)
			s.log.Error("commit failed", "writes", len(reqs), "err", err)
			s.dirty = true
			if expired > 0 {
				s.nextSweep = time.Time{} // retry the sweep at the next tick
			}
			reply(reqs, err)
			return
		}
		for _, tr := range trs {
			if !tr.masked {
				s.events++
			}
		}
		s.events -= deleted
	}
	s.dirty = false
	dropped := s.publish(c, now)
	if expired > 0 {
		s.m.expiredReports.Add(float64(expired))
		s.log.Info("expired reports deleted", "reports", expired, "targets_dropped", dropped, "expiry", s.o.ReportExpiry)
	}
	for _, tr := range trs {
		if tr.masked {
			s.log.Info("aggregate changed under override", "target", tr.Target, "from", tr.From.String(), "to", tr.To.String(), "cause", tr.Cause)
			continue
		}
		s.m.transitions.WithLabelValues(tr.To.String()).Inc()
		s.log.Info("target state changed", "target", tr.Target, "from", tr.From.String(), "to", tr.To.String(), "cause", tr.Cause, "seq", tr.Seq)
	}
	reply(reqs, nil)
}

func reply(reqs []*request, err error) {
	for _, r := range reqs {
		r.done <- err
	}
}

// evaluate judges every edited entry at now and returns the transitions and the state rows to
// write, in target order.
func (s *Store) evaluate(c *change, now time.Time) ([]transition, map[string]stateRecord) {
	var trs []transition
	states := map[string]stateRecord{}
	ruled := s.rules != nil
	for _, id := range slices.Sorted(maps.Keys(c.edits)) {
		e := c.edits[id]
		prevAgg, prevState := e.ts.Aggregate, e.state
		rule, hasRule := s.rules[id]
		e.ts.Ruled = hasRule
		var cause string
		if hasRule {
			v := judge(e.ts.Aggregate, e.ts.Reports, rule, now)
			e.ts.Aggregate, e.ts.Need, e.expires, e.stale, cause = v.state, v.need, v.expires, v.stale, v.cause
		} else {
			for i := range e.ts.Reports {
				e.ts.Reports[i].Fresh = false
			}
			e.ts.Need, e.expires, e.stale = 0, time.Time{}, 0
		}
		if _, set := c.ovs[id]; set {
			cause = e.ts.Override.cause()
		}
		e.state = e.ts.Override.apply(e.ts.Aggregate)
		switch {
		case e.state != prevState:
			trs = append(trs, transition{Event: Event{At: now, Target: id, From: prevState, To: e.state, Cause: cause}})
			e.ts.Since, e.ts.Cause = now, cause
		case e.ts.Aggregate != prevAgg:
			trs = append(trs, transition{Event: Event{At: now, Target: id, From: prevAgg, To: e.ts.Aggregate, Cause: cause}, masked: true})
		}
		if e.state != prevState || e.ts.Aggregate != prevAgg {
			states[id] = stateRecord{Aggregate: e.ts.Aggregate, Since: e.ts.Since, Cause: e.ts.Cause}
			e.stateRow = true
		}
		e.ts.State = e.state
		if ruled && !hasRule && e.ts.Override.Kind == None {
			e.ts.State = health.Unknown
		}
	}
	return trs, states
}

// unsafeWrite writes one commit's rows and events and enforces the retention; it returns how
// many events it deleted.
func (s *Store) unsafeWrite(tx *bolt.Tx, c *change, states map[string]stateRecord, trs []transition) (int, error) {
	ob := tx.Bucket(bucketObs)
	for _, w := range c.obs {
		r := obsRecord{Up: w.r.Up, Undecided: w.r.Undecided, Region: w.r.Region, RTT: w.r.RTT, Err: w.r.Err, At: w.r.At}
		if err := put(ob, obsKey(w.target, w.r.Prober), r); err != nil {
			return 0, err
		}
	}
	for _, k := range c.dels {
		if err := ob.Delete(k); err != nil {
			return 0, err
		}
	}
	ovb := tx.Bucket(bucketOverrides)
	for id, o := range c.ovs {
		var err error
		if o.Kind == None {
			err = ovb.Delete([]byte(id))
		} else {
			err = put(ovb, []byte(id), overrideRecord{Kind: o.Kind, Who: o.Who, Why: o.Why, At: o.At})
		}
		if err != nil {
			return 0, err
		}
	}
	sb := tx.Bucket(bucketState)
	for id, r := range states {
		if err := put(sb, []byte(id), r); err != nil {
			return 0, err
		}
	}
	eb := tx.Bucket(bucketEvents)
	added := 0
	for i := range trs {
		tr := &trs[i]
		if tr.masked {
			continue
		}
		seq, err := eb.NextSequence()
		if err != nil {
			return 0, err
		}
		tr.Seq = seq
		r := eventRecord{At: tr.At, Target: tr.Target, From: tr.From, To: tr.To, Cause: tr.Cause}
		if err := put(eb, seqKey(seq), r); err != nil {
			return 0, err
		}
		added++
	}
	return unsafeTrim(eb, s.events+added-s.o.Retention)
}

// unsafeTrim deletes the n oldest events.
func unsafeTrim(eb *bolt.Bucket, n int) (int, error) {
	if n <= 0 {
		return 0, nil
	}
	var old [][]byte
	c := eb.Cursor()
	for k, _ := c.First(); k != nil && len(old) < n; k, _ = c.Next() {
		old = append(old, slices.Clone(k))
	}
	for _, k := range old {
		if err := eb.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(old), nil
}

// publish installs the edited entries as a new View, leaving out those with nothing left to
// show (entry.gone); it returns how many it left out that the previous View had.
func (s *Store) publish(c *change, now time.Time) int {
	base := c.base
	w := newTargetWriter(base.targets)
	next := &View{at: now, ruled: s.rules != nil, ids: base.ids, version: base.version, changed: base.changed}
	changed, differ := false, base.ruled != next.ruled
	delta, dropped := 0, 0
	for id, e := range c.edits {
		old := base.targets.get(id)
		if old != nil {
			delta -= old.stale
		}
		if e.gone() {
			if old != nil {
				w.del(id)
				changed, differ = true, true
				dropped++
			}
			continue
		}
		if old == nil {
			changed = true
		}
		differ = differ || differs(old, e)
		delta += e.stale
		w.set(id, e)
	}
	next.targets = w.m
	if changed {
		next.ids = next.targets.ids()
	}
	if differ {
		next.version, next.changed = base.version+1, make(chan struct{})
	}
	s.view.Store(next)
	if differ {
		close(base.changed) // after the Store: a woken consumer loads next, or a later View
	}
	s.m.staleReports.Add(float64(delta))
	return dropped
}
