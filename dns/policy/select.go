package policy

import (
	"math/rand/v2"
	"net/netip"
)

// maxAnswers is the most addresses one decision returns.
const maxAnswers = 8

// cand is a candidate endpoint and the pool it belongs to.
type cand struct {
	ep    *Endpoint
	pool  *Pool
	score float64 // Hash only
}

// pick moves the k chosen candidates to the front of c, in answer order.
func pick(s Select, c []cand, k int, subnet uint64) {
	k = min(k, len(c))
	switch s {
	case Random:
		for i := range k { // partial Fisher–Yates
			j := i + rand.IntN(len(c)-i)
			c[i], c[j] = c[j], c[i]
		}
	case Hash:
		for i := range c {
			c[i].score = hrwScore(endpointHash(subnet, c[i].ep.ID), c[i].ep.Weight)
		}
		for i := range k { // partial selection sort, highest score first; ties keep order
			best := i
			for j := i + 1; j < len(c); j++ {
				if c[j].score > c[best].score {
					best = j
				}
			}
			c[i], c[best] = c[best], c[i]
		}
	default:
		pickWeighted(c, k)
	}
}

// pickWeighted samples k candidates without replacement, each draw in proportion to the
// weights of those not drawn yet.
func pickWeighted(c []cand, k int) {
	var total uint64
	for i := range c {
		total += uint64(weight(c[i].ep))
	}
	for i := range k {
		x := rand.Uint64N(total)
		j := i
		for ; j < len(c)-1; j++ {
			w := uint64(weight(c[j].ep))
			if x < w {
				break
			}
			x -= w
		}
		total -= uint64(weight(c[j].ep))
		c[i], c[j] = c[j], c[i]
	}
}

// weight is an endpoint's weight; config requires >= 1, and 0 counts as 1.
func weight(e *Endpoint) uint32 { return max(e.Weight, 1) }

// collect copies the chosen candidates' addresses and their distinct pools into into, or
// without it into a single allocation.
func collect(c []cand, into *Room) ([]netip.Addr, []string) {
	var (
		addrs []netip.Addr
		pools []string
	)
	switch n := len(c); { // one allocation sized for n, holding both slices
	case into != nil:
		addrs, pools = into.Addrs[:0], into.Pools[:0]
	case n <= 1:
		o := new(struct {
			a [1]netip.Addr
			p [1]string
		})
		addrs, pools = o.a[:0], o.p[:0]
	case n <= 2:
		o := new(struct {
			a [2]netip.Addr
			p [2]string
		})
		addrs, pools = o.a[:0], o.p[:0]
	case n <= 4:
		o := new(struct {
			a [4]netip.Addr
			p [4]string
		})
		addrs, pools = o.a[:0], o.p[:0]
	default:
		o := new(struct {
			a [maxAnswers]netip.Addr
			p [maxAnswers]string
		})
		addrs, pools = o.a[:0], o.p[:0]
	}
	for i := range c {
		addrs = append(addrs, c[i].ep.Addr.Unmap())
		seen := false
		for j := range i {
			if c[j].pool == c[i].pool {
				seen = true
				break
			}
		}
		if !seen {
			pools = append(pools, c[i].pool.Name)
		}
	}
	return addrs, pools
}
