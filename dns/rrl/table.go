package rrl

import (
	"sync"
	"sync/atomic"
)

// bucket is one account: a (client network, token) pair identified by its hash.
type bucket struct {
	key        uint64
	balance    int64  // in creditUnit units per credit; in [minCredit, maxCredit]
	last       int64  // ns since Limiter.base of the last refill
	limited    uint32 // limited responses since the last Slip
	prev, next int32  // LRU list; -1 ends it
}

// shard is one lock's worth of the table: buckets in a slice (slots are reused, never freed),
// a map from token hash to slot, and an LRU list through the slots.
type shard struct {
	mu    sync.Mutex
	index map[uint64]int32
	ents  []bucket
	limit int32 // most buckets this shard may hold
	head  int32 // most recently used slot, -1 when empty
	tail  int32 // least recently used slot, -1 when empty

	sent, dropped, slipped atomic.Uint64
	wouldDrop, wouldSlip   atomic.Uint64
	exempt, evicted        atomic.Uint64

	_ [64]byte // keep neighbouring shards' hot fields off this cache line
}

func (s *shard) init(limit int32) {
	s.limit = limit
	s.head, s.tail = -1, -1
	s.index = make(map[uint64]int32)
}

// decide charges one response to the bucket for key at time now and returns its fate
// (before LogOnly is applied).
func (s *shard) decide(l *Limiter, key uint64, now int64) Action {
	s.mu.Lock()
	i, ok := s.index[key]
	if ok {
		if i != s.head {
			s.unlink(i)
			s.pushFront(i)
		}
	} else {
		i = s.slot()
		s.ents[i] = bucket{key: key, balance: l.maxCredit, last: now}
		s.pushFront(i)
		s.index[key] = i
	}
	b := &s.ents[i]

	// Earn credit for the time since the last refill, capped at maxCredit. A clock that went
	// backwards earns nothing and does not move last back.
	if el := now - b.last; el > 0 {
		if el >= l.fullAfter {
			b.balance = l.maxCredit
		} else if b.balance += el * l.rate; b.balance > l.maxCredit {
			b.balance = l.maxCredit
		}
		b.last = now
	}

	allowed := b.balance >= creditUnit // a whole credit to spend
	if b.balance -= creditUnit; b.balance < l.minCredit {
		b.balance = l.minCredit
	}
	a := Send
	if !allowed {
		a = Drop
		if l.slip > 0 {
			if b.limited++; b.limited >= l.slip {
				b.limited = 0
				a = Slip
			}
		}
	}
	s.mu.Unlock()
	return a
}

// slot returns a slot for a new bucket, growing the slice up to limit and then reusing the
// least recently used bucket. Called with mu held; the slot is unlinked and unindexed.
func (s *shard) slot() int32 {
	if n := len(s.ents); n < int(s.limit) {
		if n == cap(s.ents) {
			c := min(max(2*n, 16), int(s.limit))
			grown := make([]bucket, n, c)
			copy(grown, s.ents)
			s.ents = grown
		}
		s.ents = s.ents[:n+1]
		return int32(n)
	}
	i := s.tail
	s.unlink(i)
	delete(s.index, s.ents[i].key)
	s.evicted.Add(1)
	return i
}

func (s *shard) unlink(i int32) {
	b := &s.ents[i]
	if b.prev >= 0 {
		s.ents[b.prev].next = b.next
	} else {
		s.head = b.next
	}
	if b.next >= 0 {
		s.ents[b.next].prev = b.prev
	} else {
		s.tail = b.prev
	}
}

func (s *shard) pushFront(i int32) {
	b := &s.ents[i]
	b.prev, b.next = -1, s.head
	if s.head >= 0 {
		s.ents[s.head].prev = i
	} else {
		s.tail = i
	}
	s.head = i
}
