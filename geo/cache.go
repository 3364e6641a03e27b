package geo

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"sync"
)

const (
	defaultCacheSize = 65536
	cacheShardBits   = 4
	cacheShards      = 1 << cacheShardBits
)

// cache maps exact addresses to their Location. It is bounded: a shard that
// is full drops about half of its entries (Go's map order makes that an
// arbitrary half) before taking a new one. Sharding keeps readers on
// different cores off each other's locks.
type cache struct {
	seed     uint64
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[netip.Addr]Location
	_  [32]byte // a shard per 64-byte cache line
}

// newCache returns a cache of about size entries, or nil for size < 0.
func newCache(size int) *cache {
	if size < 0 {
		return nil
	}
	if size == 0 {
		size = defaultCacheSize
	}
	c := &cache{seed: rand.Uint64(), perShard: max(1, (size+cacheShards-1)/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[netip.Addr]Location)
	}
	return c
}

func (c *cache) shard(ip netip.Addr) *cacheShard {
	b := ip.As16()
	h := binary.LittleEndian.Uint64(b[:8]) ^ binary.LittleEndian.Uint64(b[8:]) ^ c.seed
	h *= 0x9e3779b97f4a7c15 // the top bits now depend on every input bit
	return &c.shards[h>>(64-cacheShardBits)]
}

func (c *cache) get(ip netip.Addr) (Location, bool) {
	s := c.shard(ip)
	s.mu.RLock()
	l, ok := s.m[ip]
	s.mu.RUnlock()
	return l, ok
}

func (c *cache) put(ip netip.Addr, l Location) {
	s := c.shard(ip)
	s.mu.Lock()
	if len(s.m) >= c.perShard {
		drop := (len(s.m) + 1) / 2
		for k := range s.m {
			delete(s.m, k)
			if drop--; drop == 0 {
				break
			}
		}
	}
	s.m[ip] = l
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
