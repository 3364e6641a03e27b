package balance

import "math/rand/v2"

// LeastConn picks the available upstream with the fewest in-flight requests, breaking ties
// uniformly at random. The zero value is ready.
type LeastConn struct{}

func (LeastConn) Select(pool []*Upstream, _ string) *Upstream {
	var (
		best  *Upstream
		least int64
		ties  int
	)
	for _, u := range pool {
		if !u.Available() {
			continue
		}
		switch n := u.InFlight(); {
		case best == nil || n < least:
			best, least, ties = u, n, 1
		case n == least:
			// Reservoir sampling: the k-th tie replaces the pick with probability 1/k.
			ties++
			if rand.IntN(ties) == 0 {
				best = u
			}
		}
	}
	return best
}

// Random picks uniformly among the available upstreams. The zero value is ready.
type Random struct{}

func (Random) Select(pool []*Upstream, _ string) *Upstream {
	n := countAvailable(pool)
	if n == 0 {
		return nil
	}
	return nthAvailable(pool, rand.IntN(n))
}

// P2C is the power of two random choices: of two distinct available upstreams picked at
// random, the one with fewer in-flight requests wins (the first drawn on a tie).
// The zero value is ready.
type P2C struct{}

func (P2C) Select(pool []*Upstream, _ string) *Upstream {
	n := countAvailable(pool)
	switch n {
	case 0:
		return nil
	case 1:
		return nthAvailable(pool, 0)
	}
	i := rand.IntN(n)
	j := rand.IntN(n - 1)
	if j >= i {
		j++
	}
	a, b := nthAvailable(pool, i), nthAvailable(pool, j)
	if a == nil || b != nil && b.InFlight() < a.InFlight() { // a is nil only if all went down meanwhile
		return b
	}
	return a
}
