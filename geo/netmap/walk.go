package netmap

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/meridian-gslb/meridian/geo"
)

// A Walker walks the networks of a geo database inside a prefix in address order, as
// geo.Walker.NetworksWithin does: every network inside within, or the one network that
// contains it, with the ID of its location (from 0, the same for equal locations but for
// their Prefix, over all of the walker's walks). Build runs each of its walkers on a
// goroutine of its own.
type Walker interface {
	NetworksWithin(within netip.Prefix, fn func(n geo.Network) bool) error
}

// partPrefixes is the address space cut into the prefixes that Build's walkers take one at a
// time, in address order, IPv4 at ::/96: small enough that two walkers finish together on
// GeoLite2 (its largest IPv4 /5 holds about a tenth of its networks), and few enough that
// a walker decodes a record shared across parts only a few times.
var partPrefixes = sync.OnceValue(func() []netip.Prefix {
	var ps []netip.Prefix
	for i := range 32 { // IPv4 by /5
		ps = append(ps, netip.PrefixFrom(netip.AddrFrom16([16]byte{12: byte(i << 3)}), 96+5))
	}
	for d := 95; d >= 0; d-- { // the rest of ::/0: the sibling of each prefix of ::/96
		var b [16]byte
		b[d/8] = 1 << (7 - d%8)
		if d == 2 { // 2000::/3, the global unicast IPv6 space, by /8
			for i := range 32 {
				ps = append(ps, netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20 + byte(i)}), 8))
			}
			continue
		}
		ps = append(ps, netip.PrefixFrom(netip.AddrFrom16(b), d+1))
	}
	return ps
})

// part is what the walk of one part of the address space found, for every classification.
type part struct {
	classes []partClasses
}

// partClasses is one part's spans of one classification, its classes numbered by a walker.
type partClasses struct {
	spans []span // joined; class IDs are firstClassID + an index into first, or reserved
	first []firstSeen
}

// firstSeen is a class of a part, in the order the part's walk first reports it.
type firstSeen struct {
	name    string
	example geo.Location
}

// walkParts walks every part with the walkers side by side and returns the parts in order.
func walkParts(ctx context.Context, ws []Walker, classify []func(geo.Location) string) ([]part, error) {
	prefixes := partPrefixes()
	parts := make([]part, len(prefixes))
	var next atomic.Int64
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() {
			pw := newPartWalker(ctx, w, classify)
			for {
				j := int(next.Add(1) - 1)
				if j >= len(prefixes) || ctx.Err() != nil {
					return
				}
				if errs[i] = pw.walk(prefixes[j], &parts[j]); errs[i] != nil {
					next.Store(int64(len(prefixes))) // the others stop too
					return
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return parts, nil
}

// partWalker walks parts on one goroutine and classifies their networks, each distinct
// location once per classification.
type partWalker struct {
	ctx      context.Context
	w        Walker
	classify []func(geo.Location) string
	n        int // networks walked
	cls      []walkerClasses
}

// walkerClasses is what a partWalker knows of one classification.
type walkerClasses struct {
	byLoc []uint32 // by location ID: 1 + an index into names, 0 for not classified yet
	ids   map[string]uint32
	names []string
	local []uint32 // by index into names: 1 + the class's index in the current part's first
}

func newPartWalker(ctx context.Context, w Walker, classify []func(geo.Location) string) *partWalker {
	pw := &partWalker{ctx: ctx, w: w, classify: classify, cls: make([]walkerClasses, len(classify))}
	for k := range pw.cls {
		pw.cls[k].ids = map[string]uint32{}
	}
	return pw
}

func (pw *partWalker) walk(within netip.Prefix, p *part) error {
	p.classes = make([]partClasses, len(pw.classify))
	for k := range pw.cls {
		clear(pw.cls[k].local)
	}
	ws := spanOf(within, 0)
	var err error
	werr := pw.w.NetworksWithin(within, func(n geo.Network) bool {
		if pw.n++; pw.n%checkEvery == 0 && pw.ctx.Err() != nil {
			return false
		}
		s := spanOf(n.Prefix, 0)
		if s.lo.less(ws.lo) || ws.hi.less(s.hi) { // not inside within: then it contains within
			if !s.overlaps(ws) {
				err = fmt.Errorf("walk of %s reported %s, outside it", within, n.Prefix)
				return false
			}
			if s.lo != ws.lo {
				return true // the part holding its first address has it
			}
		}
		for k := range pw.cls {
			pw.add(k, &p.classes[k], n)
		}
		return true
	})
	if werr != nil {
		return werr
	}
	return err
}

// add classifies network n for classification k of part p.
func (pw *partWalker) add(k int, p *partClasses, n geo.Network) {
	c := &pw.cls[k]
	if n.ID >= len(c.byLoc) {
		c.byLoc = append(c.byLoc, make([]uint32, n.ID+1-len(c.byLoc))...)
	}
	wc := c.byLoc[n.ID]
	if wc == 0 {
		name := pw.classify[k](n.Location())
		i, ok := c.ids[name]
		if !ok {
			i = uint32(len(c.names))
			c.ids[name] = i
			c.names = append(c.names, name)
			c.local = append(c.local, 0)
		}
		wc = i + 1
		c.byLoc[n.ID] = wc
	}
	local := c.local[wc-1]
	if local == 0 {
		p.first = append(p.first, firstSeen{name: c.names[wc-1], example: n.Location()})
		local = uint32(len(p.first))
		c.local[wc-1] = local
	}
	cut(n.Prefix, firstClassID+local-1, n.Scope, func(s span) { p.spans = appendJoined(p.spans, s) })
}
