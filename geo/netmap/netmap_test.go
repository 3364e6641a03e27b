package netmap

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/geo/geotest"
)

func fixtureNets() []geotest.Net {
	return []geotest.Net{
		{CIDR: "10.0.0.0/24", Continent: "EU"},
		{CIDR: "10.0.1.0/24", Continent: "EU"},
		{CIDR: "10.0.2.0/24", Continent: "NA"},
		{CIDR: "10.0.3.0/24", Continent: "EU"},
		{CIDR: "64.0.0.0/3", Continent: "AS"},
		{CIDR: "96.0.0.0/3", Continent: "AS"},
		{CIDR: "192.0.2.0/24", Continent: "EU"},
		{CIDR: "2001:db8::/33", Continent: "OC"},
		{CIDR: "2001:db8:8000::/33", Continent: "OC"},
		{CIDR: "2001:db9::/32", Continent: "AF"},
	}
}

func TestLookup(t *testing.T) {
	db := openCity(t, fixtureNets())
	m := build(t, db, continent)
	checkMaximal(t, m)
	tests := []struct {
		name, addr string
		class      string
		bits       int
	}{
		{"adjacent same class merge", "10.0.1.7", "EU", 23},
		{"a different class between does not merge", "10.0.2.7", "NA", 24},
		{"nor on its other side", "10.0.3.7", "EU", 24},
		{"wide networks merge", "100.1.2.3", "AS", 2},
		{"lone network", "192.0.2.1", "EU", 24},
		{"uncovered beside networks", "10.0.4.1", "", 22},
		{"uncovered far away", "200.0.0.1", "", 5},
		{"IPv6 merge", "2001:db8:1::1", "OC", 32},
		{"IPv6 neighbour of another class", "2001:db9::1", "AF", 32},
		{"IPv6 uncovered", "8000::1", "", 1},
		{"IPv4-mapped in IPv6 bits", "::ffff:10.0.1.7", "EU", 96 + 23},
		{"IPv4-compatible at ::/96", "::10.0.1.7", "EU", 96 + 23},
		{"6to4 alias", "2002:a00:107::1", "EU", 16 + 23},
		{"Teredo alias", "2001:0:a00:107::1", "EU", 32 + 23},
		{"zone ignored", "2001:db8::1%eth0", "OC", 32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := netip.MustParseAddr(tc.addr)
			class, bits := m.Lookup(a)
			if class != tc.class || bits != tc.bits {
				t.Errorf("Lookup(%s) = %q, /%d; want %q, /%d", a, class, bits, tc.class, tc.bits)
			}
			if want := continent(db.Locate(a)); class != want {
				t.Errorf("Lookup(%s) = %q, Locate says %q", a, class, want)
			}
		})
	}
	if class, bits := m.Lookup(netip.Addr{}); class != "" || bits != -1 {
		t.Errorf("Lookup(zero Addr) = %q, %d; want \"\", -1", class, bits)
	}
	if got, want := m.Classes(), 6; got != want { // "", EU, NA, AS, OC, AF
		t.Errorf("Classes() = %d, want %d", got, want)
	}
}

// walkOf is a walk over fixed networks and their locations, in the given order.
type walkOf []struct {
	p   string
	loc geo.Location
}

// NetworksWithin walks the networks inside within or containing it, each location an id.
func (w walkOf) NetworksWithin(within netip.Prefix, fn func(geo.Network) bool) error {
	ws := spanOf(within, 0)
	for i, n := range w {
		p := netip.MustParsePrefix(n.p)
		if !spanOf(p, 0).overlaps(ws) {
			continue
		}
		if !fn(geo.NewNetwork(p, n.loc, i)) {
			return nil
		}
	}
	return nil
}

func TestBuildFromWalk(t *testing.T) {
	eu := func(p string) geo.Location { return geo.Location{Continent: "EU", Prefix: netip.MustParsePrefix(p)} }
	na := func(p string) geo.Location { return geo.Location{Continent: "NA", Prefix: netip.MustParsePrefix(p)} }
	type want struct {
		addr, class string
		bits        int
	}
	tests := []struct {
		name  string
		walk  walkOf
		wants []want
	}{
		{"location narrower than its network", walkOf{{"10.0.0.0/16", eu("10.0.1.0/24")}}, []want{
			{"10.0.1.1", "EU", 24}, {"10.0.0.1", "", -1}, {"10.0.2.1", "", -1}, {"10.1.0.1", "", 16},
		}},
		{"out of order", walkOf{{"10.0.1.0/24", eu("10.0.1.0/24")}, {"10.0.0.0/24", eu("10.0.0.0/24")}}, []want{
			{"10.0.0.1", "EU", 23},
		}},
		{"IPv4 only: the aliases read IPv4", walkOf{{"0.0.0.0/1", na("0.0.0.0/1")}}, []want{
			{"1.2.3.4", "NA", 1}, {"2002:102:304::", "NA", 17}, {"::ffff:1.2.3.4", "NA", 97}, {"2003::1", "", 16},
		}},
		{"a network inside 2002::/16 ends its alias", walkOf{{"2002:102::/32", na("2002:102::/32")}}, []want{
			{"2002:102:304::", "NA", 32}, {"2002:a00::1", "", 21},
		}},
		{"a walked IPv4-mapped network is never read", walkOf{{"::ffff:0:0/96", na("::ffff:0:0/96")}}, []want{
			{"::ffff:1.2.3.4", "", 96}, {"1.2.3.4", "", 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Build(context.Background(), []Walker{tc.walk}, continent)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			checkMaximal(t, m)
			for _, w := range tc.wants {
				if class, bits := m.Lookup(netip.MustParseAddr(w.addr)); class != w.class || bits != w.bits {
					t.Errorf("Lookup(%s) = %q, %d; want %q, %d", w.addr, class, bits, w.class, w.bits)
				}
			}
		})
	}
}

func TestBuildOverlap(t *testing.T) {
	w := walkOf{{"10.0.0.0/16", geo.Location{}}, {"10.0.1.0/24", geo.Location{}}}
	if _, err := Build(context.Background(), []Walker{w}, continent); err == nil {
		t.Error("Build over overlapping networks succeeded, want an error")
	}
	failing := walkFunc(func(netip.Prefix, func(geo.Network) bool) error { return errors.New("boom") })
	if _, err := Build(context.Background(), []Walker{failing}, continent); err == nil {
		t.Error("Build over a failing walk succeeded, want an error")
	}
}

func TestBuildCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	endless := walkFunc(func(_ netip.Prefix, fn func(geo.Network) bool) error {
		for i := uint32(0); ; i++ {
			if n++; n == 20000 {
				cancel()
			}
			a := netip.AddrFrom4([4]byte{byte(i >> 16), byte(i >> 8), byte(i), 0})
			if !fn(geo.NewNetwork(netip.PrefixFrom(a, 24), geo.Location{Continent: []string{"EU", "NA"}[i%2]}, int(i%2))) {
				return nil
			}
		}
	})
	if _, err := Build(ctx, []Walker{endless}, continent); !errors.Is(err, context.Canceled) {
		t.Errorf("Build = %v, want context.Canceled", err)
	}
	if n > 20000+checkEvery {
		t.Errorf("walk went on for %d networks after the cancel", n-20000)
	}
	if _, err := Build(ctx, walkers(openCity(t, fixtureNets())), continent); !errors.Is(err, context.Canceled) {
		t.Errorf("Build with a done context = %v, want context.Canceled", err)
	}
}

// TestLookupAgreesWithLocate checks random addresses against a random fixture: the class
// is Locate's, and the prefix holds no address of another class.
func TestLookupAgreesWithLocate(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	continents := []string{"EU", "NA", "AS"}
	var nets []geotest.Net
	for range 400 { // later inserts overwrite earlier ones where they overlap
		bits := 8 + rng.IntN(20)
		a := randomIn(rng, netip.MustParsePrefix("0.0.0.0/1"))
		nets = append(nets, geotest.Net{CIDR: prefixOf(t, a, bits).String(), Continent: continents[rng.IntN(3)]})
		a = randomIn(rng, netip.MustParsePrefix("2001:db8::/32"))
		nets = append(nets, geotest.Net{CIDR: prefixOf(t, a, 32+rng.IntN(32)).String(), Continent: continents[rng.IntN(3)]})
	}
	db := openCity(t, nets)
	m := build(t, db, continent)
	checkMaximal(t, m)
	within := []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/0"),
		netip.MustParsePrefix("0.0.0.0/1"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("::/0"),
		netip.MustParsePrefix("::ffff:0:0/97"),
		netip.MustParsePrefix("2002::/17"),
		netip.MustParsePrefix("2001::/33"),
	}
	located := 0
	for i := range 3000 {
		if checkLookup(t, rng, m, db, continent, randomIn(rng, within[i%len(within)])) {
			located++
		}
	}
	if located < 500 {
		t.Errorf("only %d of 3000 addresses located, want a stronger test", located)
	}
	t.Logf("%d networks → %d nodes, %d classes; %d of 3000 addresses located", len(nets), m.Nodes(), m.Classes(), located)
}

func TestLookupDoesNotAllocate(t *testing.T) {
	m := build(t, openCity(t, fixtureNets()), continent)
	addrs := []netip.Addr{
		netip.MustParseAddr("10.0.1.7"),
		netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("::ffff:10.0.1.7"),
		netip.MustParseAddr("2002:a00:107::1"),
	}
	if n := testing.AllocsPerRun(100, func() {
		for _, a := range addrs {
			m.Lookup(a)
		}
	}); n != 0 {
		t.Errorf("Lookup allocates %v times per run, want 0", n)
	}
}
