package netmap

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/geo/geotest"
)

// continent classifies like gdnsd's continent map; uncovered space is "".
func continent(l geo.Location) string { return l.Continent }

// openCity writes nets as a GeoIP2-City fixture and opens it without a cache.
func openCity(t testing.TB, nets []geotest.Net) *geo.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "city.mmdb")
	geotest.WriteCity(t, path, nets)
	return open(t, path)
}

func open(t testing.TB, path string) *geo.DB {
	t.Helper()
	db, err := geo.Open([]string{path}, geo.Options{CacheSize: -1})
	if err != nil {
		t.Fatalf("geo.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// walkers are two walkers of db, as Build runs on two cores.
func walkers(db *geo.DB) []Walker {
	var ws []Walker
	for _, w := range db.Walkers(2) {
		ws = append(ws, w)
	}
	return ws
}

// walkFunc is a Walker of a function.
type walkFunc func(within netip.Prefix, fn func(geo.Network) bool) error

func (f walkFunc) NetworksWithin(within netip.Prefix, fn func(geo.Network) bool) error {
	return f(within, fn)
}

func build(t testing.TB, db *geo.DB, classify func(geo.Location) string) *Map {
	t.Helper()
	m, err := Build(context.Background(), walkers(db), classify)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return m
}

// checkMaximal fails when an inner node has two leaves of one class, which a maximal
// merge never leaves.
func checkMaximal(t testing.TB, m *Map) {
	t.Helper()
	for i, n := range m.nodes {
		if isLeaf(n[0]) && n[0] == n[1] {
			t.Errorf("node %d: both halves are leaves of class %q", i, m.classes[n[0]&^leafBit])
		}
	}
}

// prefixOf is the prefix a/bits in a's own family.
func prefixOf(t testing.TB, a netip.Addr, bits int) netip.Prefix {
	t.Helper()
	p, err := a.Prefix(bits)
	if err != nil {
		t.Fatalf("prefix %s/%d: %v", a, bits, err)
	}
	return p
}

// randomIn is a random address of p.
func randomIn(rng *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		if rng.IntN(2) == 1 {
			b[i/8] |= 1 << (7 - i%8)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// checkLookup checks a against the database: Lookup's class is the class Locate gives,
// random addresses in the returned prefix have it too, and the prefix is no narrower than
// the database network. It reports whether a was located.
func checkLookup(t testing.TB, rng *rand.Rand, m *Map, db *geo.DB, classify func(geo.Location) string, a netip.Addr) bool {
	t.Helper()
	class, bits := m.Lookup(a)
	loc := db.Locate(a)
	if want := classify(loc); class != want || bits < 0 {
		t.Fatalf("Lookup(%s) = %q, %d; Locate says %q", a, class, bits, want)
	}
	if loc.Prefix.IsValid() {
		own := loc.Prefix.Bits()
		if a.Is4In6() && loc.Prefix.Addr().Is4() {
			own += 96
		}
		if bits > own {
			t.Fatalf("Lookup(%s) = /%d, narrower than the database network %s", a, bits, loc.Prefix)
		}
	}
	p := prefixOf(t, a, bits)
	for range 4 {
		b := randomIn(rng, p)
		if got := classify(db.Locate(b)); got != class {
			t.Fatalf("Lookup(%s) = %q over %s, but Locate(%s) says %q", a, class, p, b, got)
		}
	}
	return loc.Prefix.IsValid()
}
