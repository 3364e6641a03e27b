package netmap

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/meridian-gslb/meridian/geo"
)

// Reserved class IDs: the parts of a network its location does not hold for, and the
// three alias ranges, which Lookup never reads and which must merge with nothing.
const (
	unknownID uint32 = iota
	mappedID
	sixToFourID
	teredoID
	firstClassID
)

// The alias ranges of the MaxMind format (see the package doc).
var (
	mapped    = spanOf(netip.MustParsePrefix("::ffff:0:0/96"), mappedID)
	sixToFour = spanOf(netip.MustParsePrefix("2002::/16"), sixToFourID)
	teredo    = spanOf(netip.MustParsePrefix("2001::/32"), teredoID)
)

// checkEvery is how many networks or nodes Build handles between looks at its context.
const checkEvery = 1 << 14

// Build builds the Map of one classification; see BuildAll.
func Build(ctx context.Context, ws []Walker, classify func(l geo.Location) string) (*Map, error) {
	ms, err := BuildAll(ctx, ws, []func(geo.Location) string{classify})
	if err != nil {
		return nil, err
	}
	return ms[0], nil
}

// BuildAll walks every network once, with the walkers side by side over parts of the
// address space (normally geo.DB.Walkers(GOMAXPROCS)), classifies each network's location
// with every function of classify, and returns the Map of each classification; address
// space the walk does not report gets classify[i](geo.Location{}). It stops with the
// context's error when ctx is done. A classify function must be safe for concurrent use and
// a pure function of the location without its Prefix: Build calls it once per location ID
// and walker, not once per network.
func BuildAll(ctx context.Context, ws []Walker, classify []func(l geo.Location) string) ([]*Map, error) {
	if len(ws) == 0 {
		return nil, errors.New("build network map: no walker")
	}
	parts, err := walkParts(ctx, ws, classify)
	if err != nil {
		return nil, fmt.Errorf("build network map: %w", err)
	}
	ms := make([]*Map, len(classify))
	for k, fn := range classify {
		c := collector{ids: map[string]uint32{}, names: make([]string, firstClassID), examples: make([]geo.Location, firstClassID)}
		c.uncovered = c.id(fn(geo.Location{}), geo.Location{})
		for _, p := range parts {
			c.join(&p.classes[k])
			p.classes[k] = partClasses{} // let it go
		}
		m, err := c.build(ctx)
		if err != nil {
			return nil, fmt.Errorf("build network map: %w", err)
		}
		ms[k] = m
	}
	return ms, nil
}

// build turns the collected spans into the Map.
func (c *collector) build(ctx context.Context) (*Map, error) {
	spans, err := c.finish()
	if err != nil {
		return nil, err
	}
	m := &Map{classes: c.names, examples: c.examples, alias6to4: !c.saw6to4, aliasTeredo: !c.sawTeredo}
	b := trieBuilder{ctx: ctx, spans: spans}
	m.root, _ = b.build(u128{}, 0, 0)
	if b.err != nil {
		return nil, b.err
	}
	m.nodes = slices.Clip(b.nodes)
	m.v4 = m.root
	for d := 0; d < 96 && !isLeaf(m.v4); d++ {
		m.v4 = m.nodes[m.v4][0]
	}
	return m, nil
}

// collector joins the parts of the walk into classified spans in address order, numbering
// the classes in the order the walk first reports them, and joins neighbours of one class.
type collector struct {
	ids                map[string]uint32
	names              []string       // by ID; "" for the reserved IDs
	examples           []geo.Location // by ID: the first location of the class in the walk
	uncovered          uint32
	spans              []span
	unsorted           bool
	saw6to4, sawTeredo bool // the walk reported a network inside the range
}

func (c *collector) id(name string, example geo.Location) uint32 {
	id, ok := c.ids[name]
	if !ok {
		id = uint32(len(c.names))
		c.ids[name] = id
		c.names = append(c.names, name)
		c.examples = append(c.examples, example)
	}
	return id
}

// join appends the spans of one part, renumbering its classes.
func (c *collector) join(p *partClasses) {
	ids := make([]uint32, len(p.first)) // by the part's own ID
	for i, f := range p.first {
		ids[i] = c.id(f.name, f.example)
	}
	for _, s := range p.spans {
		if s.class >= firstClassID {
			s.class = ids[s.class-firstClassID]
		}
		c.push(s)
	}
}

// cut adds network p of class id to spans with push. Its location holds for the whole of
// p unless scope, the location's Prefix, is narrower.
func cut(p netip.Prefix, id uint32, scope netip.Prefix, push func(span)) {
	s := spanOf(p, id)
	if !scope.IsValid() {
		cutMapped(s, push)
		return
	}
	k := spanOf(scope, s.class)
	switch {
	case !k.overlaps(s):
		s.class = unknownID
		cutMapped(s, push)
	case !s.lo.less(k.lo) && !k.hi.less(s.hi): // scope covers p
		cutMapped(s, push)
	default: // scope inside p
		if s.lo.less(k.lo) {
			cutMapped(span{s.lo, k.lo.prev(), unknownID}, push)
		}
		cutMapped(k, push)
		if k.hi.less(s.hi) {
			cutMapped(span{k.hi.next(), s.hi, unknownID}, push)
		}
	}
}

// cutMapped pushes s without the IPv4-mapped range, which Lookup never reads.
func cutMapped(s span, push func(span)) {
	if !s.overlaps(mapped) {
		push(s)
		return
	}
	if s.lo.less(mapped.lo) {
		push(span{s.lo, mapped.lo.prev(), s.class})
	}
	if mapped.hi.less(s.hi) {
		push(span{mapped.hi.next(), s.hi, s.class})
	}
}

func (c *collector) push(s span) {
	c.saw6to4 = c.saw6to4 || s.overlaps(sixToFour)
	c.sawTeredo = c.sawTeredo || s.overlaps(teredo)
	if n := len(c.spans); n > 0 && !c.spans[n-1].hi.less(s.lo) {
		c.unsorted = true
	}
	c.spans = appendJoined(c.spans, s)
}

// appendJoined appends s to spans, or extends the last span when s continues it in its class.
func appendJoined(spans []span, s span) []span {
	if n := len(spans); n > 0 {
		last := &spans[n-1]
		if last.class == s.class && last.hi != maxU128 && last.hi.next() == s.lo {
			last.hi = s.hi
			return spans
		}
	}
	return append(spans, s)
}

// finish returns spans that cover all addresses in order, the gaps uncovered, with no two
// neighbours of one class.
func (c *collector) finish() ([]span, error) {
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
