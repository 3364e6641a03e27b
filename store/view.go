package store

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/health"
)

// View is one immutable snapshot of every target's health. Store.View returns the current one;
// a change publishes a new View and never modifies an old one, so readers need no lock. A nil
// *View answers Unknown for every target.
type View struct {
	at      time.Time  // when it was evaluated
	ruled   bool       // SetRules has been called; before, persisted states are served
	targets *targetMap // read-only once published (targets.go)
	ids     []string   // sorted keys of targets
	// version counts the Views whose states differ from their predecessor's (see Changed);
	// changed is closed when the next such View is published. A View that only adds reports
	// shares both with its predecessor.
	version uint64
	changed chan struct{}
}

// entry is one target in a View. Published entries are never modified: a change clones one.
type entry struct {
	ts      TargetState
	state   health.State // Override.apply(Aggregate): what the events track
	expires time.Time    // when a fresh report goes stale; zero if none
	stale   int          // reports that are stale (ruled targets only)
	// stateRow: the state bucket has a row for the target, so it stays in the View.
	stateRow bool
}

// gone says whether e has nothing left to show: no rule, report, override or persisted state.
// Such an entry is left out of the View (a made-up target whose reports expired).
func (e *entry) gone() bool {
	return !e.ts.Ruled && len(e.ts.Reports) == 0 && e.ts.Override.Kind == None && !e.stateRow
}

// TargetState is the evidence behind one target's state, for the API and the dashboard.
type TargetState struct {
	Target string
	// State is what policies see: the override if there is one, else the aggregate; Unknown
	// for a target that has no rule once rules are loaded.
	State health.State
	// Aggregate is the quorum of fresh reports, before any override. With no fresh report it
	// keeps its last value (persisted across restarts).
	Aggregate health.State
	Since     time.Time // when the state policies see last changed
	Cause     string    // why it last changed
	Override  Override  // Kind None when there is none; Drain is shown as such
	Ruled     bool      // the target has a Rule
	Need      int       // fresh reports that must agree now (0 when none is fresh)
	Reports   []Report  // the latest report of each prober, sorted by prober
}

// Report is one prober's latest observation of a target.
type Report struct {
	Prober string
	Region string // where a remote prober runs, "" unknown
	Up     bool
	// Undecided: the prober had not risen or fallen yet; the report keeps it fresh, no vote.
	Undecided bool
	RTT       time.Duration
	Err       string
	At        time.Time
	Fresh     bool // at most 3×Interval old when the View was evaluated; false without a rule
}

// State is what policies see for target: Unknown for a target never seen.
func (v *View) State(target string) health.State {
	if v == nil {
		return health.Unknown
	}
	if e := v.targets.get(target); e != nil {
		return e.ts.State
	}
	return health.Unknown
}

// Since is when the state policies see for target last changed; zero for a target never seen.
func (v *View) Since(target string) time.Time {
	if v == nil {
		return time.Time{}
	}
	if e := v.targets.get(target); e != nil {
		return e.ts.Since
	}
	return time.Time{}
}

// Evidence says why target is in its state, for explain: since when and the cause, an
// override and who set it, and each prober's latest report ("p1 (eu) down 0.4s ago: connection
// refused"). Empty for a target never seen.
func (v *View) Evidence(target string) string {
	if v == nil || v.targets.get(target) == nil {
		return ""
	}
	ts := v.targets.get(target).ts
	ago := func(t time.Time) string { return v.at.Sub(t).Round(100*time.Millisecond).String() + " ago" }
	var parts []string
	if !ts.Since.IsZero() {
		s := "since " + ts.Since.UTC().Format(time.RFC3339) + " (" + ago(ts.Since) + ")"
		if ts.Cause != "" {
			s += ", " + ts.Cause
		}
		parts = append(parts, s)
	}
	if o := ts.Override; o.Kind != None {
		s := o.Kind.String() + " by " + cmp.Or(o.Who, "an operator")
		if o.Why != "" {
			s += " (" + o.Why + ")"
		}
		parts = append(parts, s)
	}
	if len(ts.Reports) == 0 {
		parts = append(parts, "no prober has reported")
	}
	for _, r := range ts.Reports {
		s := r.Prober
		if r.Region != "" {
			s += " (" + r.Region + ")"
		}
		switch {
		case r.Undecided:
			s += " undecided"
		case r.Up:
			s += " up"
		default:
			s += " down"
		}
		s += " " + ago(r.At)
		if !r.Fresh {
			s += ", stale"
		}
		if r.Err != "" {
			s += ": " + r.Err
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// Ruled says whether target has a Rule: it is one of the current config's targets. Cheaper
// than Target(target).Ruled, which copies the reports.
func (v *View) Ruled(target string) bool {
	if v == nil {
		return false
	}
	e := v.targets.get(target)
	return e != nil && e.ts.Ruled
}

// Target returns the evidence for target; a copy, safe to keep.
func (v *View) Target(target string) TargetState {
	if v == nil {
		return TargetState{Target: target}
	}
	e := v.targets.get(target)
	if e == nil {
		return TargetState{Target: target}
	}
	ts := e.ts
	ts.Reports = slices.Clone(ts.Reports)
	return ts
}

// Targets lists every target with a rule, a report, a persisted state or an override, sorted.
func (v *View) Targets() []string {
	if v == nil {
		return nil
	}
	return slices.Clone(v.ids)
}

// At is when the View was evaluated: Report.Fresh is as of then.
func (v *View) At() time.Time {
	if v == nil {
		return time.Time{}
	}
	return v.at
}

// Changed is closed once a later View differs from this one in what its consumers act on: a
// target's state, aggregate, override or since, or a target added or dropped. A report that
// changes none of them publishes a View that shares this channel. Consumers (the proxies, the
// dashboard's stream, a following proxy) wait on it instead of polling; the DNS answers read
// Store.View per decision and need no wake-up. A nil View's channel is never closed.
func (v *View) Changed() <-chan struct{} {
	if v == nil {
		return nil
	}
	return v.changed
}

// Version counts the state changes Changed signals: equal versions show the same states.
func (v *View) Version() uint64 {
	if v == nil {
		return 0
	}
	return v.version
}

// ProxyState is target as a proxy treats it: a drained target keeps the probers' verdict (its
// aggregate), so that it drains rather than counting as failed; under any other override, or
// none, it is the state policies see. Every proxy, in the node or following one, reads this.
func (v *View) ProxyState(target string) (health.State, OverrideKind) {
	if v == nil {
		return health.Unknown, None
	}
	e := v.targets.get(target)
	if e == nil {
		return health.Unknown, None
	}
	if e.ts.Override.Kind == Drain {
		return e.ts.Aggregate, Drain
	}
	return e.ts.State, e.ts.Override.Kind
}

// differs says whether a consumer of the Views acts differently on b than on a (either nil:
// the target was added or dropped).
func differs(a, b *entry) bool {
	if a == nil || b == nil {
		return a != b
	}
	return a.ts.State != b.ts.State || a.ts.Aggregate != b.ts.Aggregate || a.ts.Override != b.ts.Override ||
		!a.ts.Since.Equal(b.ts.Since) || a.ts.Ruled != b.ts.Ruled
}

// clone returns a copy of e whose Reports may be modified.
func (e *entry) clone() *entry {
	c := *e
	c.ts.Reports = slices.Clone(e.ts.Reports)
	return &c
}

// setReport stores o as its prober's latest report; an older one than stored is ignored.
func (e *entry) setReport(o Report) bool {
	i, found := slices.BinarySearchFunc(e.ts.Reports, o.Prober, func(r Report, p string) int {
		return strings.Compare(r.Prober, p)
	})
	if found {
		if o.At.Before(e.ts.Reports[i].At) {
			return false
		}
		e.ts.Reports[i] = o
		return true
	}
	e.ts.Reports = slices.Insert(e.ts.Reports, i, o)
	return true
}
