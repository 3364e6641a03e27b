package l7

import (
	"math/rand/v2"

	"github.com/meridian-gslb/meridian/proxy/balance"
	"github.com/meridian-gslb/meridian/proxy/spill"
)

// tried holds the backends one request has already attempted, so a retry goes elsewhere.
type tried struct {
	n  int
	us [8]*balance.Upstream
}

func (t *tried) add(u *balance.Upstream) {
	if t.n < len(t.us) {
		t.us[t.n] = u
		t.n++
	}
}

func (t *tried) has(u *balance.Upstream) bool {
	for _, v := range t.us[:t.n] {
		if v == u {
			return true
		}
	}
	return false
}

// pickResult is a backend choice: the index in the route's backends (its own, then its
// spill tiers'), and whether the response must set the sticky cookie. idx < 0: none; full
// says whether a backend was available but at its connection limit, capped whether the
// spill's cap refused the request.
type pickResult struct {
	idx       int
	setCookie bool
	full      bool
	capped    bool
}

// spillHeader on a request keeps it in this region: a monitor that probes the region through
// its proxy sends it (so the probe fails when the region's own backends do), and so may a
// proxy that forwards what it spilled to another proxy (so it is not spilled again).
const spillHeader = "Meridian-Spill"

// pick chooses a backend of c for req that has not been tried, and acquires it (the caller
// releases it). Order: the sticky cookie's backend while it is available, then the route's
// selector, then any available backend not yet tried and below the limit.
func (c *route) pick(req request, t *tried, limit int64) pickResult {
	bs := c.r.Backends
	sticky := c.r.Sticky != nil
	if sticky {
		if i := c.stickyIndex(req); i >= 0 {
			u := bs[i]
			if u.Available() && !t.has(u) && u.TryAcquire(limit) {
				return pickResult{idx: i}
			}
		}
	}
	full := false
	if u := c.r.Selector.Select(bs, c.hashKey(req)); u != nil && !t.has(u) {
		if u.TryAcquire(limit) {
			return pickResult{idx: c.indexOf(u), setCookie: sticky}
		}
		full = true
	}
	n := len(bs)
	if n == 0 {
		return c.pickSpill(req, t, limit, false)
	}
	start := rand.IntN(n)
	for k := range n {
		i := (start + k) % n
		u := bs[i]
		if !u.Available() || t.has(u) {
			continue
		}
		if u.TryAcquire(limit) {
			return pickResult{idx: i, setCookie: sticky}
		}
		full = true
	}
	return c.pickSpill(req, t, limit, full)
}

// pickSpill takes the request to the route's spill, when it has one and the request does not
// forbid it: none of the route's own backends could take it.
func (c *route) pickSpill(req request, t *tried, limit int64, full bool) pickResult {
	sp := c.r.Spill
	if sp == nil {
		return pickResult{idx: -1, full: full}
	}
	if _, ok := req.header(spillHeader); ok {
		return pickResult{idx: -1, full: full}
	}
	u, tier, why := sp.Pick(c.hashKey(req), t.has, limit, req.clientIP())
	if u == nil {
		return pickResult{idx: -1, full: full, capped: why == spill.Capped}
	}
	for i, v := range c.bs[c.first[tier]:] {
		if v == u {
			return pickResult{idx: c.first[tier] + i}
		}
	}
	u.Release()
	return pickResult{idx: -1, full: full} // not reached: Pick returns a member of the tier
}

func (c *route) indexOf(u *balance.Upstream) int {
	for i, v := range c.r.Backends {
		if v == u {
			return i
		}
	}
	return -1 // not reached: selectors return a member of the pool
}

// idempotent reports whether a request with this method may be sent twice (RFC 9110 9.2.2).
func idempotent(method string) bool {
	switch method {
	case "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE":
		return true
	}
	return false
}
