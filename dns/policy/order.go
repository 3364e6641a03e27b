package policy

import "math"

// defaultTolerance is the share of a tier's best distance or RTT within which pools share it.
const defaultTolerance = 0.05

// ranked is a pool that has endpoints of the requested family, with its place in the order.
type ranked struct {
	pool  *Pool
	n     int     // enabled endpoints of the family
	group uint8   // pools sort by group first; a tier never spans two groups
	key   float64 // then by key: km, nanoseconds, or 0
	unit  unit    // what key is, for Steps
	tier  int
}

// unit says what a ranked key measures.
type unit uint8

const (
	noUnit unit = iota
	km
	hav // a haversine, shown in km
	ns
)

// tierMode says how the pools of one group form tiers.
type tierMode uint8

const (
	ownTier   tierMode = iota // each pool is a tier
	oneTier                   // the whole group is a tier
	tolerance                 // a pool joins the tier while key ≤ (1+tol) × the tier's first key
)

// groups holds the tier mode of groups 0, 1 and 2.
type groups [3]tierMode

// orderGeo ranks by the most specific region match, then by distance from the first match.
// It returns the matched level (0 when nothing matched) and the code it matched on.
func orderGeo(svc *Service, c Client, ps []ranked) (level int, code string) {
	if c.Located {
		for i := range ps {
			l := matchLevel(ps[i].pool.Region, c.Loc)
			ps[i].key = float64(l)
			level = max(level, l)
		}
	}
	if level == 0 {
		resetRanks(ps)
		rank(ps, groups{ownTier}, 0)
		return 0, ""
	}
	var first *Region
	for i := range ps {
		if int(ps[i].key) == level {
			first = ps[i].pool.Region
			break
		}
	}
	for i := range ps {
		r := ps[i].pool.Region
		switch {
		case int(ps[i].key) == level:
			ps[i].group, ps[i].key, ps[i].unit = 0, 0, noUnit
		case hasCoords(first) && hasCoords(r): // only the order counts: skip the arcsine
			ps[i].group, ps[i].key, ps[i].unit = 1, svc.regionHav(first, r), hav
		default: // after every region with coordinates, in configured order
			ps[i].group, ps[i].key, ps[i].unit = 1, math.Inf(1), noUnit
		}
	}
	rank(ps, groups{oneTier, ownTier}, 0)
	switch level {
	case 4:
		code = c.Loc.Region
	case 3:
		code = c.Loc.Subdivision
	case 2:
		code = c.Loc.Country
	default:
		code = c.Loc.Continent
	}
	return level, code
}

// matchLevel is 4 when an override puts the client in r, 3 when r serves the client's
// subdivision, 2 its country, 1 its continent.
func matchLevel(r *Region, loc Location) int {
	switch {
	case r == nil:
		return 0
	case loc.Region != "" && r.Name == loc.Region:
		return 4
	case loc.Subdivision != "" && contains(r.Subdivisions, loc.Subdivision):
		return 3
	case loc.Country != "" && contains(r.Countries, loc.Country):
		return 2
	case loc.Continent != "" && contains(r.Continents, loc.Continent):
		return 1
	}
	return 0
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// orderProximity ranks by biased distance from the client. It reports whether the client had
// coordinates; without them the order is the configured one.
func orderProximity(loc Location, ps []ranked, tol float64) bool {
	if !loc.HasCoords {
		resetRanks(ps)
		rank(ps, groups{ownTier}, 0)
		return false
	}
	for i := range ps {
		setProximity(&ps[i], loc, 0)
	}
	rank(ps, groups{tolerance, ownTier}, tol)
	return true
}

// setProximity puts p in group g by its biased distance, or in group g+1 without coordinates.
func setProximity(p *ranked, loc Location, g uint8) {
	if r := p.pool.Region; loc.HasCoords && hasCoords(r) {
		p.group, p.key, p.unit = g, biasedKm(loc, r), km
		return
	}
	p.group, p.key, p.unit = g+1, 0, noUnit
}

// orderLatency ranks by measured RTT, then the unmeasured by proximity. It returns how many
// pools had an RTT; with none it has ranked exactly as orderProximity.
func orderLatency(c Client, src LatencySource, ps []ranked, tol float64) int {
	measured := 0
	if src != nil {
		for i := range ps {
			ps[i].group = 1
			if r := ps[i].pool.Region; r != nil {
				if rtt, ok := src.RTT(c, r.Name); ok {
					ps[i].group, ps[i].key, ps[i].unit = 0, float64(rtt), ns
					measured++
				}
			}
		}
	}
	if measured == 0 {
		orderProximity(c.Loc, ps, tol)
		return 0
	}
	for i := range ps {
		if ps[i].group != 0 {
			setProximity(&ps[i], c.Loc, 1)
		}
	}
	rank(ps, groups{tolerance, tolerance, ownTier}, tol)
	return measured
}

// orderFailover ranks in configured order, one pool per tier.
func orderFailover(ps []ranked) {
	resetRanks(ps)
	rank(ps, groups{ownTier}, 0)
}

func resetRanks(ps []ranked) {
	for i := range ps {
		ps[i].group, ps[i].key, ps[i].unit = 0, 0, noUnit
	}
}

// rank sorts ps stably by (group, key) and numbers the tiers from 0.
func rank(ps []ranked, modes groups, tol float64) {
	for i := 1; i < len(ps); i++ { // insertion sort: few pools, stable, no allocation
		for j := i; j > 0 && less(&ps[j], &ps[j-1]); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
	tier, head := 0, 0
	for i := range ps {
		if i > 0 {
			same := ps[i].group == ps[head].group
			switch mode := modes[min(int(ps[i].group), len(modes)-1)]; {
			case !same || mode == ownTier:
				tier, head = tier+1, i
			case mode == tolerance && ps[i].key > ps[head].key*(1+tol):
				tier, head = tier+1, i
			}
		}
		ps[i].tier = tier
	}
}

func less(a, b *ranked) bool {
	if a.group != b.group {
		return a.group < b.group
	}
	return a.key < b.key
}
