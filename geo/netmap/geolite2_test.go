package netmap

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/geo/geotest"
)

// TestGeoLite2 builds the continent map of the real database, as gdnsd's continent map,
// and checks that its scopes are never narrower than the database network and never wrong.
func TestGeoLite2(t *testing.T) {
	if testing.Short() {
		t.Skip("walks a whole database")
	}
	db := open(t, geotest.GeoLite2(t, "GeoLite2-City.mmdb"))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	m, err := Build(context.Background(), walkers(db), continent)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	took := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("%v: built in %v, %d nodes, %d classes; %.1f MB kept, %.0f MB allocated while building",
		db.Describe(), took.Round(time.Millisecond), m.Nodes(), m.Classes(),
		float64(after.HeapAlloc-before.HeapAlloc)/1e6, float64(after.TotalAlloc-before.TotalAlloc)/1e6)
	checkMaximal(t, m)

	// gdnsd answers /14, /17 and /20 with its continent map on its GeoLite2-City build.
	for _, s := range []string{"8.8.8.1", "81.2.69.160", "1.0.16.1"} {
		a := netip.MustParseAddr(s)
		class, bits := m.Lookup(a)
		own := db.Locate(a).Prefix
		if bits < 0 || bits > 24 || bits > own.Bits() {
			t.Errorf("Lookup(%s) = %q, /%d; want at most /24 and at most the network %s", a, class, bits, own)
		}
		// Maximal: the other half of the next wider prefix holds an address of another class.
		wider := prefixOf(t, a, bits-1)
		if other, ok := otherClassIn(m, wider, class); !ok {
			t.Errorf("Lookup(%s) = /%d, but all of %s has class %q", a, bits, wider, class)
		} else {
			t.Logf("%s: %s /%d (network %s); %s is %s", a, class, bits, own, other, continent(db.Locate(other)))
		}
	}

	rng := rand.New(rand.NewPCG(1, 2))
	located := 0
	for i := range 10000 {
		p := netip.MustParsePrefix("0.0.0.0/0")
		if i%4 == 3 {
			p = netip.MustParsePrefix("2000::/3")
		}
		if checkLookup(t, rng, m, db, continent, randomIn(rng, p)) {
			located++
		}
	}
	t.Logf("%d of 10000 random addresses located", located)
}

// otherClassIn finds an address of p whose class, by the map, is not class.
func otherClassIn(m *Map, p netip.Prefix, class string) (netip.Addr, bool) {
	x, depth := fromAddr(p.Addr()), p.Bits()
	if p.Addr().Is4() {
		depth += 96
	}
	ref := m.root
	for d := 0; d < depth && !isLeaf(ref); d++ {
		ref = m.nodes[ref][x.bit(d)]
	}
	var find func(ref uint32, x u128, d int) (u128, bool)
	find = func(ref uint32, x u128, d int) (u128, bool) {
		if isLeaf(ref) {
			id := ref &^ leafBit
			return x, id >= firstClassID && m.classes[id] != class
		}
		if y, ok := find(m.nodes[ref][0], x, d+1); ok {
			return y, true
		}
		return find(m.nodes[ref][1], x.withBit(d), d+1)
	}
	y, ok := find(ref, x, depth)
	if !ok {
		return netip.Addr{}, false
	}
	if p.Addr().Is4() {
		return netip.AddrFrom4([4]byte{byte(y.lo >> 24), byte(y.lo >> 16), byte(y.lo >> 8), byte(y.lo)}), true
	}
	var b [16]byte
	for i := range 8 {
		b[i], b[8+i] = byte(y.hi>>(56-8*i)), byte(y.lo>>(56-8*i))
	}
	return netip.AddrFrom16(b), true
}
