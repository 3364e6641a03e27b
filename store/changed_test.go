package store

import (
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/health"
)

// closed says whether ch is closed now.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestChangedSignalsStateChangesOnly(t *testing.T) {
	clk := newClock()
	s := open(t, "", Options{Now: clk.Now})
	s.SetRules(majority)
	record(t, s, "web", "a", true, clk.Now())
	v := s.View()
	if v.State("web") != health.Up {
		t.Fatalf("state = %s, want up", v.State("web"))
	}

	// A report that changes no state publishes a View (the report is new) but no change.
	clk.Add(time.Second)
	record(t, s, "web", "b", true, clk.Now())
	next := s.View()
	if next == v {
		t.Fatal("a new report published no View")
	}
	if closed(v.Changed()) || next.Version() != v.Version() {
		t.Fatalf("a report that changed no state signalled a change (version %d -> %d)", v.Version(), next.Version())
	}

	// An override does: the old View's channel is closed, the new one's is open.
	if err := s.SetOverride("web", Override{Kind: Drain, Who: "test"}); err != nil {
		t.Fatal(err)
	}
	drained := s.View()
	if !closed(v.Changed()) || !closed(next.Changed()) {
		t.Fatal("a drain did not close the previous Views' Changed channel")
	}
	if closed(drained.Changed()) || drained.Version() != v.Version()+1 {
		t.Fatalf("the drained View: closed %v, version %d, want open and %d", closed(drained.Changed()), drained.Version(), v.Version()+1)
	}
	// A drained target keeps the probers' verdict for a proxy, which drains it; policies see it down.
	if st, k := drained.ProxyState("web"); st != health.Up || k != Drain || drained.State("web") != health.Down {
		t.Fatalf("drained: proxy sees %s/%s, policies %s; want up/drain and down", st, k, drained.State("web"))
	}
	if err := s.SetOverride("web", Override{Kind: ForceDown, Who: "test"}); err != nil {
		t.Fatal(err)
	}
	if st, k := s.View().ProxyState("web"); st != health.Down || k != ForceDown {
		t.Fatalf("forced down: proxy sees %s/%s, want down/force-down", st, k)
	}
	if !closed(drained.Changed()) {
		t.Fatal("drain -> force-down signalled no change")
	}
	if st, k := s.View().ProxyState("never-seen"); st != health.Unknown || k != None {
		t.Fatalf("unknown target: %s/%s", st, k)
	}
}
