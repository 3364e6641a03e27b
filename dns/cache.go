package dns

import (
	"hash/maphash"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// cache holds prepared replies for one snapshot; a reload starts a new, empty one. It is bounded:
// a full shard evicts an arbitrary entry, so random names can churn it but never grow it.
type cache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

const (
	cacheShards   = 16
	cacheShardCap = 4096
)

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]*entry
}

// entry is a prepared reply with its metrics already resolved, so a hit costs two atomic adds.
type entry struct {
	wire []byte
	// optRdlen and optEnd locate the reply's OPT record (its RDLENGTH, the end of its RDATA), so
	// a COOKIE option can be put in a copy; 0: the reply has no OPT.
	optRdlen, optEnd int
	// refresh: the reply holds signatures to be made anew from this Unix second; 0: none.
	refresh  int64
	queries  [2]prometheus.Counter // by Proto
	duration prometheus.Observer
}

func newCache() *cache {
	c := &cache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[string]*entry)
	}
	return c
}

func (c *cache) shard(key []byte) *cacheShard {
	return &c.shards[maphash.Bytes(c.seed, key)%cacheShards]
}

func (c *cache) get(key []byte) *entry {
	s := c.shard(key)
	s.mu.RLock()
	e := s.m[string(key)] // no allocation: the compiler special-cases this conversion
	s.mu.RUnlock()
	return e
}

func (c *cache) put(key []byte, e *entry) {
	s := c.shard(key)
	s.mu.Lock()
	if len(s.m) >= cacheShardCap {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[string(key)] = e
	s.mu.Unlock()
}

func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
