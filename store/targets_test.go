package store

import (
	"fmt"
	"slices"
	"testing"
)

// TestTargetWriterCopiesOnWrite: a writer over a published map leaves it as it was (the View
// readers hold it), and the new map has every change.
func TestTargetWriterCopiesOnWrite(t *testing.T) {
	w := newTargetWriter(nil)
	for i := range 5000 {
		w.set(fmt.Sprint("t", i), &entry{stale: i})
	}
	base := w.m
	next := newTargetWriter(base)
	next.set("t1", &entry{stale: -1})
	next.set("new", &entry{})
	next.del("t2")
	next.del("absent")
	if base.len() != 5000 || base.get("t1").stale != 1 || base.get("new") != nil || base.get("t2") == nil {
		t.Fatalf("the base map changed: len %d, t1 %v, new %v, t2 %v", base.len(), base.get("t1"), base.get("new"), base.get("t2"))
	}
	m := next.m
	if m.len() != 5000 || m.get("t1").stale != -1 || m.get("new") == nil || m.get("t2") != nil || m.get("t3").stale != 3 {
		t.Fatalf("the new map lacks a change: len %d", m.len())
	}
	n := 0
	m.all(func(string, *entry) bool { n++; return true })
	if ids := m.ids(); n != 5000 || len(ids) != 5000 || !slices.IsSorted(ids) {
		t.Errorf("all yields %d, ids %d (sorted %v)", n, len(ids), slices.IsSorted(ids))
	}
}
