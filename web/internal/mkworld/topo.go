package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The outline's shape: coordinates in tenths of a degree (0.1 of the map's 360 units, a
// quarter of a pixel at the dashboard's widths), simplified by as much, and nothing south of
// southLimit (Antarctica: the map stops above it).
const (
	unit       = 10  // integer coordinates per degree, written as tenths of a map unit
	tolerance  = 0.6 // Douglas–Peucker tolerance in tenths of a degree
	southLimit = -60.0
)

// topology is the part of a TopoJSON file (github.com/topojson/topojson-specification) read here.
type topology struct {
	Type      string `json:"type"`
	Transform *struct {
		Scale     [2]float64 `json:"scale"`
		Translate [2]float64 `json:"translate"`
	} `json:"transform"`
	Arcs    [][][2]float64      `json:"arcs"`
	Objects map[string]geometry `json:"objects"`
}

type geometry struct {
	Type       string          `json:"type"`
	Arcs       json.RawMessage `json:"arcs"`
	Geometries []geometry      `json:"geometries"`
}

type point struct{ x, y float64 } // lon, lat; then map units

// landPath turns a TopoJSON topology's "land" object into one SVG path.
func landPath(b []byte) (string, error) {
	var t topology
	if err := json.Unmarshal(b, &t); err != nil {
		return "", fmt.Errorf("read topojson: %w", err)
	}
	if t.Type != "Topology" {
		return "", fmt.Errorf("read topojson: type %q, want Topology", t.Type)
	}
	land, ok := t.Objects["land"]
	if !ok {
		return "", errors.New("read topojson: no object \"land\"")
	}
	arcs := t.decodeArcs()
	var rings [][]int
	if err := collectRings(land, &rings); err != nil {
		return "", err
	}
	var d strings.Builder
	for _, r := range rings {
		pts, err := assemble(arcs, r)
		if err != nil {
			return "", err
		}
		for _, ring := range project(pts) {
			writeRing(&d, ring)
		}
	}
	if d.Len() == 0 {
		return "", errors.New("read topojson: the land object has no rings")
	}
	return d.String(), nil
}

// decodeArcs returns every arc's positions in degrees: quantized, delta-encoded arcs when the
// topology has a transform, else as they are.
func (t *topology) decodeArcs() [][]point {
	out := make([][]point, len(t.Arcs))
	for i, a := range t.Arcs {
		pts := make([]point, len(a))
		var x, y float64
		for j, p := range a {
			if t.Transform == nil {
				pts[j] = point{p[0], p[1]}
				continue
			}
			x, y = x+p[0], y+p[1]
			pts[j] = point{x*t.Transform.Scale[0] + t.Transform.Translate[0], y*t.Transform.Scale[1] + t.Transform.Translate[1]}
		}
		out[i] = pts
	}
	return out
}

// collectRings appends the arc indexes of every ring of g's polygons.
func collectRings(g geometry, rings *[][]int) error {
	switch g.Type {
	case "GeometryCollection":
		for _, c := range g.Geometries {
			if err := collectRings(c, rings); err != nil {
				return err
			}
		}
	case "Polygon":
		var p [][]int
		if err := json.Unmarshal(g.Arcs, &p); err != nil {
			return fmt.Errorf("read topojson polygon: %w", err)
		}
		*rings = append(*rings, p...)
	case "MultiPolygon":
		var mp [][][]int
		if err := json.Unmarshal(g.Arcs, &mp); err != nil {
			return fmt.Errorf("read topojson multipolygon: %w", err)
		}
		for _, p := range mp {
			*rings = append(*rings, p...)
		}
	case "", "Null":
	default:
		return fmt.Errorf("read topojson: %s in the land object, want polygons", g.Type)
	}
	return nil
}

// assemble joins a ring's arcs; ^i is arc i reversed, and each arc starts where the last ended.
func assemble(arcs [][]point, ring []int) ([]point, error) {
	var out []point
	for _, i := range ring {
		rev := i < 0
		if rev {
			i = ^i
		}
		if i >= len(arcs) {
			return nil, fmt.Errorf("read topojson: arc %d of %d", i, len(arcs))
		}
		a := arcs[i]
		for k := range a {
			p := a[k]
			if rev {
				p = a[len(a)-1-k]
			}
			if k == 0 && len(out) > 0 {
				continue
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// project puts a ring on the map: longitudes unwrapped so that it is continuous across the
// antimeridian, a ring around a pole closed along the map's edge, then simplified, in
// tenths of a degree, and repeated 360° over where it spills past an edge. Rings wholly south
// of southLimit, or that simplify to less than a triangle, are dropped.
func project(ll []point) [][][2]int {
	if len(ll) < 3 {
		return nil
	}
	north := math.Inf(-1)
	pts := make([]point, 0, len(ll)+2)
	off := 0.0
	for i, p := range ll {
		north = max(north, p.y)
		if i > 0 {
			switch prev := ll[i-1].x; {
			case p.x-prev > 180:
				off -= 360
			case prev-p.x > 180:
				off += 360
			}
		}
		pts = append(pts, point{p.x + off, p.y})
	}
	if north < southLimit {
		return nil
	}
	if off != 0 { // around a pole: close the ring along the edge of the map
		pole := 90.0
		if north < 0 {
			pole = -90
		}
		last, first := pts[len(pts)-1], pts[0]
		pts = append(pts, point{last.x, pole}, point{first.x, pole})
	}
	for i, p := range pts {
		pts[i] = point{(p.x + 180) * unit, (90 - p.y) * unit}
	}
	pts = simplify(pts, tolerance)
	var ring [][2]int
	for _, p := range pts {
		q := [2]int{int(math.Round(p.x)), int(math.Round(p.y))}
		if n := len(ring); n > 0 && ring[n-1] == q {
			continue
		}
		ring = append(ring, q)
	}
	if len(ring) > 1 && ring[0] == ring[len(ring)-1] {
		ring = ring[:len(ring)-1]
	}
	if len(ring) < 3 {
		return nil
	}
	lo, hi := ring[0][0], ring[0][0]
	for _, q := range ring {
		lo, hi = min(lo, q[0]), max(hi, q[0])
	}
	var out [][][2]int
	for shift := -360 * unit; shift <= 360*unit; shift += 360 * unit {
		if hi+shift <= 0 || lo+shift >= 360*unit {
			continue
		}
		r := make([][2]int, len(ring))
		for i, q := range ring {
			r[i] = [2]int{q[0] + shift, q[1]}
		}
		out = append(out, r)
	}
	return out
}

// simplify is Douglas–Peucker: the points of pts that a polyline needs to stay within eps.
func simplify(pts []point, eps float64) []point {
	if len(pts) < 3 {
		return pts
	}
	keep := make([]bool, len(pts))
	keep[0], keep[len(pts)-1] = true, true
	var walk func(i, j int)
	walk = func(i, j int) {
		far, at := 0.0, -1
		for k := i + 1; k < j; k++ {
			if d := segDist(pts[k], pts[i], pts[j]); d > far {
				far, at = d, k
			}
		}
		if at >= 0 && far > eps {
			keep[at] = true
			walk(i, at)
			walk(at, j)
		}
	}
	walk(0, len(pts)-1)
	out := pts[:0:0]
	for i, p := range pts {
		if keep[i] {
			out = append(out, p)
		}
	}
	return out
}

// segDist is the distance from p to the segment a–b.
func segDist(p, a, b point) float64 {
	dx, dy := b.x-a.x, b.y-a.y
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = max(0, min(1, ((p.x-a.x)*dx+(p.y-a.y)*dy)/l))
	}
	return math.Hypot(p.x-a.x-t*dx, p.y-a.y-t*dy)
}

// writeRing writes one closed ring: an absolute move, then relative lines, in tenths.
func writeRing(d *strings.Builder, ring [][2]int) {
	d.WriteString("M")
	writeNums(d, ring[0][0], ring[0][1])
	d.WriteString("l")
	for i := 1; i < len(ring); i++ {
		if i > 1 {
			sep(d, ring[i][0]-ring[i-1][0])
		}
		writeNums(d, ring[i][0]-ring[i-1][0], ring[i][1]-ring[i-1][1])
	}
	d.WriteString("z")
}

func writeNums(d *strings.Builder, x, y int) {
	d.WriteString(tenths(x))
	sep(d, y)
	d.WriteString(tenths(y))
}

// sep separates two numbers: a minus sign does by itself.
func sep(d *strings.Builder, next int) {
	if next >= 0 {
		d.WriteByte(' ')
	}
}

// tenths writes v/10 in the fewest characters: 12 → 1.2, 3 → .3, -3 → -.3, 20 → 2.
func tenths(v int) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	}
	whole, frac := v/10, v%10
	switch {
	case frac == 0:
		return sign + strconv.Itoa(whole)
	case whole == 0:
		return sign + "." + strconv.Itoa(frac)
	default:
		return sign + strconv.Itoa(whole) + "." + strconv.Itoa(frac)
	}
}
