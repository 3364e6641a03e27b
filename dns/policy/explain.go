package policy

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// The helpers here format Decision.Steps; they run only with Request.Explain.

// geoMatch says what a geo order matched the client on.
func geoMatch(c Client, level int, code string) string {
	if !c.Located {
		return "client not located, configured order"
	}
	where := locString(c.Loc)
	if level == 0 {
		return "client " + where + " matched no region, configured order"
	}
	return fmt.Sprintf("client %s matched %s %s", where, [...]string{1: "continent", 2: "country", 3: "subdivision", 4: "nets override to region"}[level], code)
}

// proximityFrom says where a proximity order measured from.
func proximityFrom(loc Location, located bool, tol float64) string {
	if !located {
		return "client without coordinates, configured order"
	}
	return fmt.Sprintf("client at %.2f,%.2f, tolerance %g%%", loc.Lat, loc.Lon, tol*100)
}

// latencyFrom says what a latency order was based on.
func latencyFrom(loc Location, measured, pools int, tol float64) string {
	if measured == 0 {
		return "no RTT measured, by proximity: " + proximityFrom(loc, loc.HasCoords, tol)
	}
	return fmt.Sprintf("RTT measured for %d of %d pools, tolerance %g%%, the rest by proximity", measured, pools, tol*100)
}

// rttSources adds a step per measured pool naming where its RTT came from, when the latency
// source can say.
func (d *decider) rttSources(ps []ranked) {
	ex, ok := d.r.Latency.(RTTExplainer)
	if !ok {
		return
	}
	for _, p := range ps {
		if p.unit != ns || p.pool.Region == nil {
			continue
		}
		if src := ex.ExplainRTT(d.r.Client, p.pool.Region.Name); src != "" {
			d.stepf("pool %s: RTT %s to %s from %s", p.pool.Name, time.Duration(p.key).Round(100*time.Microsecond), p.pool.Region.Name, src)
		}
	}
}

// locString is "EU/DE/DE-BE", leaving out what the location lacks.
func locString(loc Location) string {
	var parts []string
	for _, p := range []string{loc.Continent, loc.Country, loc.Subdivision} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return "(no codes)"
	}
	return strings.Join(parts, "/")
}

// tiersString is "tiers [eu-web 12ms, eu2-web 12.4ms] [na-web 80ms]".
func tiersString(ps []ranked) string {
	var b strings.Builder
	b.WriteString("tiers")
	for i, p := range ps {
		switch {
		case i == 0:
			b.WriteString(" [")
		case p.tier != ps[i-1].tier:
			b.WriteString("] [")
		default:
			b.WriteString(", ")
		}
		b.WriteString(p.pool.Name)
		switch p.unit {
		case km:
			fmt.Fprintf(&b, " %.0fkm", p.key)
		case hav:
			fmt.Fprintf(&b, " %.0fkm", havKm(p.key))
		case ns:
			fmt.Fprintf(&b, " %s", time.Duration(p.key).Round(100*time.Microsecond))
		}
	}
	b.WriteString("]")
	return b.String()
}

// selectStep is "select weighted 1 of 2: 127.0.2.1 (eu-web)".
func selectStep(s Select, candidates int, client netip.Addr, dec Decision) string {
	var b strings.Builder
	fmt.Fprintf(&b, "select %s %d of %d", s, len(dec.Addrs), candidates)
	if s == Hash {
		if dec.SubnetBits > 0 {
			p, _ := client.Unmap().Prefix(dec.SubnetBits)
			fmt.Fprintf(&b, " for %s", p)
		} else {
			b.WriteString(" for a client without address")
		}
	}
	b.WriteString(":")
	for i, a := range dec.Addrs {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(" " + a.String())
	}
	fmt.Fprintf(&b, " (%s)", strings.Join(dec.Pools, ", "))
	return b.String()
}

func eligible(ok bool) string {
	if ok {
		return "eligible"
	}
	return "not eligible"
}
