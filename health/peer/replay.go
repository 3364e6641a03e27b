package peer

import (
	"errors"
	"sync"
	"time"
)

// DefaultMaxNonces bounds a Receiver's replay cache: room for hundreds of probers and
// proxies, each sending a few requests a second, in well under 10 MB.
const DefaultMaxNonces = 100000

var (
	errReplayed = errors.New("replayed request")
	errFull     = errors.New("too many requests within the replay window")
)

// replayCache remembers the nonce of every accepted request until the request's timestamp
// leaves the ±MaxSkew window, after which verify refuses it anyway. It is bounded: when full of
// nonces still in the window it refuses new ones rather than forget one. It assumes the node's
// clock does not step back by more than the slack kept past the window.
type replayCache struct {
	max int

	mu    sync.Mutex
	seen  map[nonce]int64   // nonce → its request's timestamp (unix seconds)
	byTS  map[int64][]nonce // the same nonces by timestamp, for the sweep
	swept int64             // the unix second of the last sweep
}

func newReplayCache(max int) *replayCache {
	if max <= 0 {
		max = DefaultMaxNonces
	}
	return &replayCache{max: max, seen: map[nonce]int64{}, byTS: map[int64][]nonce{}}
}

// replaySlack is how long past the window a nonce is kept, so that a clock corrected back by
// up to this much cannot make a forgotten nonce valid again.
const replaySlack = 5 * time.Second

// admit records n, of a request signed at ts and verified at now; errReplayed when n was
// admitted before, errFull when the cache holds max nonces still in the window.
func (c *replayCache) admit(n nonce, ts, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sec := now.Unix(); sec != c.swept || len(c.seen) >= c.max {
		c.sweep(now)
		c.swept = sec
	}
	if _, ok := c.seen[n]; ok {
		return errReplayed
	}
	if len(c.seen) >= c.max {
		return errFull
	}
	sec := ts.Unix()
	c.seen[n] = sec
	c.byTS[sec] = append(c.byTS[sec], n)
	return nil
}

// sweep forgets the nonces whose timestamps verify refuses at now (with the slack). The
// timestamps held span the window, so it looks at about 2×MaxSkew seconds' entries.
func (c *replayCache) sweep(now time.Time) {
	for sec, ns := range c.byTS {
		if now.Sub(time.Unix(sec, 0)) <= MaxSkew+replaySlack {
			continue
		}
		for _, n := range ns {
			delete(c.seen, n)
		}
		delete(c.byTS, sec)
	}
}

// len is the number of nonces held.
func (c *replayCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}
