package store

import (
	"maps"
	"slices"
)

// targetMap is a View's targets in shards, so that publishing a View copies only the shards the
// commit changed: the whole map of 100,000 targets cloned at every commit took 18% of an idle
// node's CPU, and most of its garbage (another 25% in the collector). Published maps are never
// modified; a targetWriter copies a shard the first time it writes to it.
type targetMap struct {
	shards [targetShards]map[string]*entry
	n      int
}

const targetShards = 1024

// shardOf is FNV-1a of id, folded to a shard index.
func shardOf(id string) int {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return int(h & (targetShards - 1))
}

func (m *targetMap) get(id string) *entry {
	if m == nil {
		return nil
	}
	return m.shards[shardOf(id)][id]
}

func (m *targetMap) len() int {
	if m == nil {
		return 0
	}
	return m.n
}

// all yields every target, in no order.
func (m *targetMap) all(yield func(string, *entry) bool) {
	if m == nil {
		return
	}
	for _, s := range m.shards {
		for id, e := range s {
			if !yield(id, e) {
				return
			}
		}
	}
}

// targetWriter builds the next View's map over base without changing base.
type targetWriter struct {
	m      *targetMap
	copied [targetShards]bool
}

func newTargetWriter(base *targetMap) *targetWriter {
	w := &targetWriter{m: &targetMap{}}
	if base != nil {
		*w.m = *base // the shard pointers; a shard is copied before its first write
	}
	return w
}

func (w *targetWriter) shard(id string) map[string]*entry {
	i := shardOf(id)
	if !w.copied[i] {
		w.m.shards[i] = maps.Clone(w.m.shards[i])
		if w.m.shards[i] == nil {
			w.m.shards[i] = map[string]*entry{}
		}
		w.copied[i] = true
	}
	return w.m.shards[i]
}

func (w *targetWriter) set(id string, e *entry) {
	s := w.shard(id)
	if _, ok := s[id]; !ok {
		w.m.n++
	}
	s[id] = e
}

func (w *targetWriter) del(id string) {
	if _, ok := w.m.shards[shardOf(id)][id]; !ok {
		return
	}
	delete(w.shard(id), id)
	w.m.n--
}

// ids is every target's ID, sorted.
func (m *targetMap) ids() []string {
	out := make([]string, 0, m.len())
	m.all(func(id string, _ *entry) bool { out = append(out, id); return true })
	slices.Sort(out)
	return out
}
