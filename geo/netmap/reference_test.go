package netmap

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/meridian-gslb/meridian/geo"
)

// referenceBuild is Build as it was before it walked in parallel and classified each
// location once: one walk with geo.DB.Networks, classify called for every network. The
// tests hold Build to its output. It also returns the first location of each class, as
// dns chose them to prepare each class's order.
func referenceBuild(ctx context.Context, walk func(fn func(p netip.Prefix, l geo.Location) bool) error, classify func(l geo.Location) string) (*Map, map[string]geo.Location, error) {
	reps := map[string]geo.Location{}
	c := refCollector{classify: func(l geo.Location) string {
		key := classify(l)
		if _, ok := reps[key]; !ok {
			reps[key] = l
		}
		return key
	}, ids: map[string]uint32{}, names: make([]string, firstClassID)}
	c.uncovered = c.id(geo.Location{})
	n := 0
	err := walk(func(p netip.Prefix, l geo.Location) bool {
		if n++; n%checkEvery == 0 && ctx.Err() != nil {
			return false
		}
		c.add(p, l)
		return true
	})
	if err != nil {
		return nil, nil, fmt.Errorf("build network map: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("build network map: %w", err)
	}
	spans, err := c.finish()
	if err != nil {
		return nil, nil, fmt.Errorf("build network map: %w", err)
	}
	m := &Map{classes: c.names, alias6to4: !c.saw6to4, aliasTeredo: !c.sawTeredo}
	b := trieBuilder{ctx: ctx, spans: spans}
	m.root, _ = b.build(u128{}, 0, 0)
	if b.err != nil {
		return nil, nil, fmt.Errorf("build network map: %w", b.err)
	}
	m.nodes = slices.Clip(b.nodes)
	m.v4 = m.root
	for d := 0; d < 96 && !isLeaf(m.v4); d++ {
		m.v4 = m.nodes[m.v4][0]
	}
	return m, reps, nil
}

// refCollector turns the walked networks into classified spans, joining neighbours of one class.
type refCollector struct {
	classify           func(geo.Location) string
	ids                map[string]uint32
	names              []string // by ID; "" for the reserved IDs
	uncovered          uint32
	spans              []span
	unsorted           bool
	saw6to4, sawTeredo bool // the walk reported a network inside the range
}

func (c *refCollector) id(l geo.Location) uint32 {
	name := c.classify(l)
	id, ok := c.ids[name]
	if !ok {
		id = uint32(len(c.names))
		c.ids[name] = id
		c.names = append(c.names, name)
	}
	return id
}

// add adds network p located at l. l holds for the whole of p unless l.Prefix is narrower.
func (c *refCollector) add(p netip.Prefix, l geo.Location) {
	s := spanOf(p, c.id(l))
	if !l.Prefix.IsValid() {
		c.refCutMapped(s)
		return
	}
	k := spanOf(l.Prefix, s.class)
	switch {
	case !k.overlaps(s):
		s.class = unknownID
		c.refCutMapped(s)
	case !s.lo.less(k.lo) && !k.hi.less(s.hi): // l.Prefix covers p
		c.refCutMapped(s)
	default: // l.Prefix inside p
		if s.lo.less(k.lo) {
			c.refCutMapped(span{s.lo, k.lo.prev(), unknownID})
		}
		c.refCutMapped(k)
		if k.hi.less(s.hi) {
			c.refCutMapped(span{k.hi.next(), s.hi, unknownID})
		}
	}
}

// cutMapped pushes s without the IPv4-mapped range, which Lookup never reads.
func (c *refCollector) refCutMapped(s span) {
	if !s.overlaps(mapped) {
		c.push(s)
		return
	}
	if s.lo.less(mapped.lo) {
		c.push(span{s.lo, mapped.lo.prev(), s.class})
	}
	if mapped.hi.less(s.hi) {
		c.push(span{mapped.hi.next(), s.hi, s.class})
	}
}

func (c *refCollector) push(s span) {
	c.saw6to4 = c.saw6to4 || s.overlaps(sixToFour)
	c.sawTeredo = c.sawTeredo || s.overlaps(teredo)
	if n := len(c.spans); n > 0 {
		last := &c.spans[n-1]
		if last.class == s.class && last.hi != maxU128 && last.hi.next() == s.lo {
			last.hi = s.hi
			return
		}
		if !last.hi.less(s.lo) {
			c.unsorted = true
		}
	}
	c.spans = append(c.spans, s)
}

// finish returns spans that cover all addresses in order, the gaps uncovered, with no two
// neighbours of one class.
func (c *refCollector) finish() ([]span, error) {
	in := append(c.spans, mapped)
	if !c.saw6to4 {
		in = append(in, sixToFour)
	}
	if !c.sawTeredo {
		in = append(in, teredo)
	}
	c.spans = nil
	slices.SortFunc(in, func(a, b span) int {
		switch {
		case a.lo.less(b.lo):
			return -1
		case b.lo.less(a.lo):
			return 1
		}
		return 0
	})
	out := make([]span, 0, len(in)+len(in)/4)
	add := func(s span) {
		if n := len(out); n > 0 && out[n-1].class == s.class {
			out[n-1].hi = s.hi
			return
		}
		out = append(out, s)
	}
	next, full := u128{}, false // the first address not covered yet; full: none left
	for _, s := range in {
		if full || s.lo.less(next) {
			return nil, errors.New("walk reported overlapping networks")
		}
		if next.less(s.lo) {
			add(span{next, s.lo.prev(), c.uncovered})
		}
		add(s)
		next, full = s.hi.next(), s.hi == maxU128
	}
	if !full {
		add(span{next, maxU128, c.uncovered})
	}
	return slices.Clip(out), nil
}
