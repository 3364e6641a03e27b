package rrl

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock, safe for concurrent reads.
type fakeClock struct{ ns atomic.Int64 }

var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func (c *fakeClock) Now() time.Time          { return epoch.Add(time.Duration(c.ns.Load())) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func (c *fakeClock) Set(d time.Duration)     { c.ns.Store(int64(d)) }

// wire returns the uncompressed wire form of a dotted name.
func wire(name string) []byte {
	var b []byte
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if l == "" {
			continue
		}
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

func newLimiter(t testing.TB, o Options) (*Limiter, *fakeClock) {
	t.Helper()
	c := &fakeClock{}
	o.Now = c.Now
	l, err := New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return l, c
}

var (
	www  = wire("www.example.com")
	mail = wire("mail.example.com")
	zone = wire("example.com")
)

const (
	typeA    = 1
	typeAAAA = 28
	typeMX   = 15
)

// exhaust spends a fresh bucket's initial credit (rps responses, all of which must be Send)
// and checks that the next response is limited.
func exhaust(t *testing.T, l *Limiter, rps int, client string, kind Kind, name []byte, qtype uint16) {
	t.Helper()
	a := netip.MustParseAddr(client)
	for i := range rps {
		if got := l.Decide(a, kind, name, qtype); got != Send {
			t.Fatalf("%s %v response %d of the initial credit: got %v, want send", client, kind, i+1, got)
		}
	}
	if got := l.Decide(a, kind, name, qtype); got == Send {
		t.Fatalf("%s %v response %d (credit spent): got send, want limited", client, kind, rps+1)
	}
}

func limited(l *Limiter, client string, kind Kind, name []byte, qtype uint16) bool {
	return l.Decide(netip.MustParseAddr(client), kind, name, qtype) != Send
}

// A flood of one name from one /24 gets at most rate × duration plus the initial credit; the
// rest are limited with exactly every Slip-th of them slipped; a well-behaved client of
// another /24 asking for the same name meanwhile is never limited.
func TestFloodOneName(t *testing.T) {
	const (
		rps     = 10
		queries = 50_000
		span    = 5 * time.Second
	)
	for _, slip := range []int{0, 1, 2, 3} {
		t.Run(fmt.Sprintf("slip=%d", slip), func(t *testing.T) {
			l, clk := newLimiter(t, Options{ResponsesPerSecond: rps, Slip: slip})
			flooder := netip.MustParseAddr("192.0.2.77")
			polite := netip.MustParseAddr("198.51.100.5")
			step := span / queries
			var sent, dropped, slipped, politeSent, politeAll int
			nLimited := 0
			for i := range queries {
				switch l.Decide(flooder, Answer, www, typeA) {
				case Send:
					sent++
				case Drop:
					nLimited++
					dropped++
					if slip > 0 && nLimited%slip == 0 {
						t.Fatalf("limited response %d: got drop, want slip (slip=%d)", nLimited, slip)
					}
				case Slip:
					nLimited++
					slipped++
					if slip == 0 || nLimited%slip != 0 {
						t.Fatalf("limited response %d: got slip, want drop (slip=%d)", nLimited, slip)
					}
				}
				if i%2000 == 0 { // every 200ms: 5 qps, half the rate
					politeAll++
					if a := l.Decide(polite, Answer, www, typeA); a == Send {
						politeSent++
					} else {
						t.Fatalf("polite client limited (%v) at %v", a, time.Duration(i)*step)
					}
				}
				clk.Advance(step)
			}
			if max := rps*int(span/time.Second) + rps; sent > max {
				t.Errorf("flooder got %d sent, want at most %d", sent, max)
			}
			if sent < rps {
				t.Errorf("flooder got %d sent, want at least the initial credit %d", sent, rps)
			}
			if sent+dropped+slipped != queries {
				t.Errorf("sent %d + dropped %d + slipped %d != %d", sent, dropped, slipped, queries)
			}
			if slip > 0 {
				if want := nLimited / slip; slipped != want {
					t.Errorf("slipped %d of %d limited, want %d", slipped, nLimited, want)
				}
			} else if slipped != 0 {
				t.Errorf("slip=0 slipped %d", slipped)
			}
			st := l.Stats()
			if st.Sent != uint64(sent+politeSent) || st.Dropped != uint64(dropped) || st.Slipped != uint64(slipped) {
				t.Errorf("Stats = %+v, want sent %d dropped %d slipped %d", st, sent+politeSent, dropped, slipped)
			}
			t.Logf("slip=%d: flooder sent %d, dropped %d, slipped %d; polite %d/%d sent", slip, sent, dropped, slipped, politeSent, politeAll)
		})
	}
}

func TestClientNetworks(t *testing.T) {
	const rps = 3
	t.Run("ipv4 /24", func(t *testing.T) {
		l, _ := newLimiter(t, Options{ResponsesPerSecond: rps})
		exhaust(t, l, rps, "203.0.113.4", Answer, www, typeA)
		if !limited(l, "203.0.113.200", Answer, www, typeA) {
			t.Error("203.0.113.200 does not share 203.0.113.4's bucket")
		}
		if !limited(l, "::ffff:203.0.113.9", Answer, www, typeA) {
			t.Error("IPv4-mapped ::ffff:203.0.113.9 does not share 203.0.113.4's bucket")
		}
		if limited(l, "203.0.114.4", Answer, www, typeA) {
			t.Error("203.0.114.4 (another /24) shares 203.0.113.4's bucket")
		}
		if limited(l, "203.0.112.255", Answer, www, typeA) {
			t.Error("203.0.112.255 (another /24) shares 203.0.113.4's bucket")
		}
	})
	t.Run("ipv6 /56", func(t *testing.T) {
		l, _ := newLimiter(t, Options{ResponsesPerSecond: rps})
		exhaust(t, l, rps, "2001:db8:0:100::1", Answer, www, typeA)
		if !limited(l, "2001:db8:0:1ff:ffff:ffff:ffff:fffe", Answer, www, typeA) {
			t.Error("2001:db8:0:1ff:... does not share 2001:db8:0:100::1's /56 bucket")
		}
		if limited(l, "2001:db8:0:200::1", Answer, www, typeA) {
			t.Error("2001:db8:0:200::1 (another /56) shares 2001:db8:0:100::1's bucket")
		}
		if limited(l, "2001:db8:1:100::1", Answer, www, typeA) {
			t.Error("2001:db8:1:100::1 (another /56) shares 2001:db8:0:100::1's bucket")
		}
	})
	t.Run("ipv6 zone ignored", func(t *testing.T) {
		l, _ := newLimiter(t, Options{ResponsesPerSecond: rps})
		exhaust(t, l, rps, "fe80::1%eth0", Answer, www, typeA)
		if !limited(l, "fe80::2%eth1", Answer, www, typeA) {
			t.Error("fe80::2 (zone eth1) does not share the bucket of fe80::1 (zone eth0)")
		}
	})
	t.Run("custom prefixes", func(t *testing.T) {
		l, _ := newLimiter(t, Options{ResponsesPerSecond: rps, IPv4Prefix: 32, IPv6Prefix: 64})
		exhaust(t, l, rps, "203.0.113.4", Answer, www, typeA)
		if limited(l, "203.0.113.5", Answer, www, typeA) {
			t.Error("with IPv4Prefix 32, 203.0.113.5 shares 203.0.113.4's bucket")
		}
		exhaust(t, l, rps, "2001:db8:0:100::1", Answer, www, typeA)
		if !limited(l, "2001:db8:0:100:ffff::1", Answer, www, typeA) {
			t.Error("with IPv6Prefix 64, 2001:db8:0:100:ffff::1 does not share the /64 bucket")
		}
		if limited(l, "2001:db8:0:101::1", Answer, www, typeA) {
			t.Error("with IPv6Prefix 64, 2001:db8:0:101::1 shares 2001:db8:0:100::/64's bucket")
		}
	})
	t.Run("ipv4 and ipv6 never share", func(t *testing.T) {
		l, _ := newLimiter(t, Options{ResponsesPerSecond: rps, IPv6Prefix: 8})
		exhaust(t, l, rps, "0.0.0.1", Answer, www, typeA)
		if limited(l, "::1", Answer, www, typeA) {
			t.Error("::1 shares 0.0.0.1's bucket")
		}
	})
}

func TestTokens(t *testing.T) {
	const rps = 5
	t.Run("nxdomain by zone", func(t *testing.T) {
		l, _ := newLimiter(t, Options{ResponsesPerSecond: rps})
		r := rand.New(rand.NewPCG(1, 2))
		client := netip.MustParseAddr("192.0.2.1")
		// The caller passes the zone for every NXDOMAIN, whatever random name was asked, so
		// random names (and types) land in the zone's one bucket.
		for i := range rps {
			if a := l.Decide(client, NXDomain, zone, uint16(r.IntN(300))); a != Send {
				t.Fatalf("NXDOMAIN %d within credit: %v", i, a)
			}
		}
		for i := range 100 {
			if a := l.Decide(client, NXDomain, zone, uint16(r.IntN(300))); a == Send {
				t.Fatalf("NXDOMAIN %d past the zone's credit: sent", rps+i)
			}
		}
		if !limited(l, "192.0.2.1", NXDomain, wire("EXAMPLE.com"), typeA) {
			t.Error("zone in upper case has its own bucket")
		}
		if limited(l, "192.0.2.1", NXDomain, wire("example.net"), typeA) {
			t.Error("another zone shares example.com's NXDOMAIN bucket")
		}
		if limited(l, "192.0.2.1", Answer, zone, typeA) {
			t.Error("Answer for the apex shares the zone's NXDOMAIN bucket")
		}
		if limited(l, "192.0.2.1", Error, nil, 0) {
			t.Error("Error shares the zone's NXDOMAIN bucket")
		}
	})
	t.Run("answer by qname and qtype", func(t *testing.T) {
		l, _ := newLimiter(t, Options{ResponsesPerSecond: rps})
		exhaust(t, l, rps, "192.0.2.1", Answer, www, typeA)
		if limited(l, "192.0.2.1", Answer, www, typeAAAA) {
			t.Error("www AAAA shares www A's bucket")
		}
		if limited(l, "192.0.2.1", Answer, mail, typeA) {
			t.Error("mail A shares www A's bucket")
		}
		if !limited(l, "192.0.2.1", Answer, wire("WwW.ExAmPlE.cOm"), typeA) {
			t.Error("0x20-cased www A has its own bucket")
		}
		if limited(l, "192.0.2.1", NXDomain, www, typeA) {
			t.Error("NXDomain with the same name shares the Answer bucket")
		}
	})
	t.Run("errors per network", func(t *testing.T) {
		l, _ := newLimiter(t, Options{ResponsesPerSecond: rps})
		exhaust(t, l, rps, "192.0.2.1", Error, www, typeA)
		if !limited(l, "192.0.2.99", Error, mail, typeMX) {
			t.Error("an error for another name and type in the same /24 has its own bucket")
		}
		if !limited(l, "192.0.2.1", Error, nil, 0) {
			t.Error("an error with no name has its own bucket")
		}
		if limited(l, "192.0.3.1", Error, www, typeA) {
			t.Error("another /24 shares the error bucket")
		}
		if limited(l, "192.0.2.1", Answer, www, typeA) {
			t.Error("Answer shares the Error bucket")
		}
	})
	t.Run("long names", func(t *testing.T) {
		l, _ := newLimiter(t, Options{ResponsesPerSecond: 1})
		long := make([]byte, 1000)
		for i := range long {
			long[i] = 'A' + byte(i%26)
		}
		if a := l.Decide(netip.MustParseAddr("192.0.2.1"), Answer, long, typeA); a != Send {
			t.Fatalf("first: %v", a)
		}
		if !limited(l, "192.0.2.1", Answer, long, typeA) {
			t.Error("a 1000-byte name did not reuse its bucket")
		}
	})
}

func TestExempt(t *testing.T) {
	l, _ := newLimiter(t, Options{
		ResponsesPerSecond: 1,
		Slip:               2,
		Exempt: []netip.Prefix{
			netip.MustParsePrefix("192.0.2.0/24"),
			netip.MustParsePrefix("2001:db8::/32"),
			netip.MustParsePrefix("::ffff:203.0.113.0/120"), // the same as 203.0.113.0/24
		},
	})
	clients := []string{"192.0.2.1", "192.0.2.254", "::ffff:192.0.2.7", "2001:db8:ffff::1", "203.0.113.50"}
	n := 0
	for _, c := range clients {
		for range 1000 {
			n++
			if limited(l, c, Answer, www, typeA) {
				t.Fatalf("exempt client %s limited", c)
			}
			if limited(l, c, Error, nil, 0) {
				t.Fatalf("exempt client %s limited on Error", c)
			}
			n++
		}
	}
	st := l.Stats()
	if st.Exempt != uint64(n) || st.Sent != uint64(n) || st.Buckets != 0 {
		t.Errorf("Stats = %+v, want Exempt = Sent = %d and no buckets", st, n)
	}
	exhaust(t, l, 1, "198.51.100.1", Answer, www, typeA)
	exhaust(t, l, 1, "2001:db9::1", Answer, www, typeA)
}

func TestLogOnly(t *testing.T) {
	run := func(logOnly bool) (Stats, []Action) {
		l, clk := newLimiter(t, Options{ResponsesPerSecond: 2, Slip: 2, LogOnly: logOnly})
		var got []Action
		for range 10 {
			got = append(got, l.Decide(netip.MustParseAddr("192.0.2.1"), Answer, www, typeA))
			clk.Advance(time.Millisecond)
		}
		return l.Stats(), got
	}
	st, acts := run(true)
	for i, a := range acts {
		if a != Send {
			t.Errorf("LogOnly response %d: %v, want send", i, a)
		}
	}
	ref, refActs := run(false)
	t.Logf("enforcing: %v", refActs)
	if ref.Dropped == 0 || ref.Slipped == 0 {
		t.Fatalf("reference run limited nothing: %+v", ref)
	}
	if st.Sent != 10 || st.Dropped != 0 || st.Slipped != 0 {
		t.Errorf("LogOnly Stats = %+v, want 10 sent and nothing dropped or slipped", st)
	}
	if st.WouldDrop != ref.Dropped || st.WouldSlip != ref.Slipped {
		t.Errorf("LogOnly WouldDrop/WouldSlip = %d/%d, enforcing run Dropped/Slipped = %d/%d",
			st.WouldDrop, st.WouldSlip, ref.Dropped, ref.Slipped)
	}
}

func TestRefill(t *testing.T) {
	const rps = 10
	t.Run("after a quiet second", func(t *testing.T) {
		l, clk := newLimiter(t, Options{ResponsesPerSecond: rps})
		a := netip.MustParseAddr("192.0.2.1")
		for i := range rps {
			if got := l.Decide(a, Answer, www, typeA); got != Send {
				t.Fatalf("initial credit %d: %v", i, got)
			}
		}
		clk.Advance(time.Second)
		exhaust(t, l, rps, "192.0.2.1", Answer, www, typeA)
	})
	t.Run("pro rata", func(t *testing.T) {
		l, clk := newLimiter(t, Options{ResponsesPerSecond: rps})
		exhaust(t, l, rps, "192.0.2.1", Answer, www, typeA) // balance now -1
		clk.Advance(200 * time.Millisecond)                 // +2: balance 1
		exhaust(t, l, 1, "192.0.2.1", Answer, www, typeA)
	})
	t.Run("capped at the rate", func(t *testing.T) {
		l, clk := newLimiter(t, Options{ResponsesPerSecond: rps})
		exhaust(t, l, rps, "192.0.2.1", Answer, www, typeA)
		clk.Advance(time.Hour)
		exhaust(t, l, rps, "192.0.2.1", Answer, www, typeA) // not 3600 × rps
	})
	t.Run("limited responses are charged", func(t *testing.T) {
		l, clk := newLimiter(t, Options{ResponsesPerSecond: rps})
		exhaust(t, l, rps, "192.0.2.1", Answer, www, typeA) // balance -1
		limited(l, "192.0.2.1", Answer, www, typeA)         // -2
		clk.Advance(time.Second)                            // +10: 8
		exhaust(t, l, rps-2, "192.0.2.1", Answer, www, typeA)
	})
	t.Run("clock going backwards", func(t *testing.T) {
		l, clk := newLimiter(t, Options{ResponsesPerSecond: rps})
		clk.Set(10 * time.Second)
		exhaust(t, l, rps, "192.0.2.1", Answer, www, typeA) // -1
		clk.Set(5 * time.Second)
		if !limited(l, "192.0.2.1", Answer, www, typeA) { // -2, no credit from going back
			t.Fatal("sent after the clock went back")
		}
		clk.Set(10 * time.Second)
		if !limited(l, "192.0.2.1", Answer, www, typeA) { // -3, nothing earned since 10s
			t.Fatal("credit earned for time already accounted")
		}
		clk.Set(11 * time.Second) // +10: 7
		exhaust(t, l, rps-3, "192.0.2.1", Answer, www, typeA)
	})
}

// Debt is bounded by Window: however long a flood lasts, the client is answered again after
// exactly Window of quiet, and not a millisecond sooner.
func TestDebtBoundedByWindow(t *testing.T) {
	const (
		rps    = 10
		window = 5 * time.Second
	)
	probe := func(flood, quiet time.Duration) Action {
		l, clk := newLimiter(t, Options{ResponsesPerSecond: rps, Window: window})
		a := netip.MustParseAddr("192.0.2.1")
		for elapsed := time.Duration(0); elapsed < flood; elapsed += time.Millisecond {
			if elapsed > 0 {
				clk.Advance(time.Millisecond) // 1000 qps
			}
			l.Decide(a, Answer, www, typeA)
		}
		clk.Advance(quiet)
		return l.Decide(a, Answer, www, typeA)
	}
	for _, flood := range []time.Duration{3 * time.Second, time.Minute, 10 * time.Minute} {
		if a := probe(flood, window-time.Millisecond); a == Send {
			t.Errorf("after a %v flood, sent after only %v of quiet (window %v)", flood, window-time.Millisecond, window)
		}
		if a := probe(flood, window); a != Send {
			t.Errorf("after a %v flood, still limited (%v) after %v of quiet (window %v)", flood, a, window, window)
		}
	}
}

func TestTableSizeBound(t *testing.T) {
	const (
		size     = 1000
		networks = 1_000_000
	)
	l, clk := newLimiter(t, Options{ResponsesPerSecond: 5, TableSize: size})
	checkTable := func() {
		t.Helper()
		n := 0
		for i := range l.shards {
			sh := &l.shards[i]
			sh.mu.Lock()
			if len(sh.index) != len(sh.ents) || len(sh.ents) > int(sh.limit) {
				t.Fatalf("shard %d: %d indexed, %d buckets, limit %d", i, len(sh.index), len(sh.ents), sh.limit)
			}
			n += len(sh.ents)
			sh.mu.Unlock()
		}
		if st := l.Stats(); n > size || st.Buckets != n {
			t.Fatalf("%d buckets (Stats.Buckets %d), TableSize %d", n, st.Buckets, size)
		}
	}
	for i := range networks {
		v := uint32(i) << 8
		a := netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 1})
		l.Decide(a, Answer, www, typeA)
		if i%100_000 == 0 {
			checkTable()
			clk.Advance(time.Millisecond)
		}
	}
	checkTable()
	st := l.Stats()
	if st.Buckets < size/2 {
		t.Errorf("only %d buckets used of %d", st.Buckets, size)
	}
	if want := uint64(networks - st.Buckets); st.Evicted != want {
		t.Errorf("Evicted = %d, want %d", st.Evicted, want)
	}
	if st.Sent != networks {
		t.Errorf("Sent = %d, want %d (every network is new)", st.Sent, networks)
	}
	t.Logf("%+v", st)
}

func TestTinyTable(t *testing.T) {
	for _, size := range []int{1, 2, 3, 63, 64, 65, 1000} {
		l, _ := newLimiter(t, Options{ResponsesPerSecond: 1, TableSize: size})
		for i := range 10_000 {
			l.Decide(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), Answer, www, typeA)
		}
		if b := l.Stats().Buckets; b > size || b == 0 {
			t.Errorf("TableSize %d: %d buckets", size, b)
		}
	}
}

// The least recently used bucket of a shard is the one reused.
func TestLRU(t *testing.T) {
	l, _ := newLimiter(t, Options{ResponsesPerSecond: 1})
	var s shard
	s.init(3)
	// Keys 1, 2, 3 fill the shard; spending each one's credit marks it.
	for k := uint64(1); k <= 3; k++ {
		s.decide(l, k, 0)
	}
	s.decide(l, 1, 0) // touch 1: LRU order now 2, 3, 1
	s.decide(l, 4, 0) // evicts 2
	if _, ok := s.index[2]; ok {
		t.Fatal("key 2 (least recently used) was not evicted")
	}
	for _, k := range []uint64{1, 3, 4} {
		if _, ok := s.index[k]; !ok {
			t.Fatalf("key %d evicted", k)
		}
	}
	if a := s.decide(l, 1, 0); a == Send {
		t.Error("key 1 lost its state")
	}
	if a := s.decide(l, 2, 0); a != Send { // evicts 3, the LRU now
		t.Error("key 2 came back with its old state")
	}
	if _, ok := s.index[3]; ok {
		t.Error("key 3 was not evicted")
	}
	if s.evicted.Load() != 2 || len(s.ents) != 3 {
		t.Errorf("evicted %d, %d buckets", s.evicted.Load(), len(s.ents))
	}
}

func TestDisabled(t *testing.T) {
	l, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		if limited(l, "192.0.2.1", Answer, www, typeA) {
			t.Fatal("disabled limiter limited")
		}
	}
	if st := l.Stats(); st != (Stats{}) {
		t.Errorf("disabled limiter counted: %+v", st)
	}
}

func TestNewValidation(t *testing.T) {
	bad := []struct {
		o     Options
		field string
	}{
		{Options{ResponsesPerSecond: -1}, "ResponsesPerSecond"},
		{Options{ResponsesPerSecond: MaxResponsesPerSecond + 1}, "ResponsesPerSecond"},
		{Options{ResponsesPerSecond: 5, Window: -time.Second}, "Window"},
		{Options{ResponsesPerSecond: 5, Window: 500 * time.Millisecond}, "Window"},
		{Options{ResponsesPerSecond: 5, Window: 2 * time.Hour}, "Window"},
		{Options{ResponsesPerSecond: 5, Slip: -1}, "Slip"},
		{Options{ResponsesPerSecond: 5, Slip: 11}, "Slip"},
		{Options{ResponsesPerSecond: 5, IPv4Prefix: -24}, "IPv4Prefix"},
		{Options{ResponsesPerSecond: 5, IPv4Prefix: 33}, "IPv4Prefix"},
		{Options{ResponsesPerSecond: 5, IPv6Prefix: -1}, "IPv6Prefix"},
		{Options{ResponsesPerSecond: 5, IPv6Prefix: 129}, "IPv6Prefix"},
		{Options{ResponsesPerSecond: 5, TableSize: -1}, "TableSize"},
		{Options{ResponsesPerSecond: 5, TableSize: MaxTableSize + 1}, "TableSize"},
		{Options{ResponsesPerSecond: 5, Exempt: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), {}}}, "Exempt[1]"},
	}
	for _, c := range bad {
		l, err := New(c.o)
		if err == nil {
			t.Errorf("New(%+v) = %v, nil; want an error naming %s", c.o, l, c.field)
			continue
		}
		if !strings.Contains(err.Error(), c.field) || !strings.HasPrefix(err.Error(), "rrl: ") {
			t.Errorf("New(%+v) error %q does not name %s", c.o, err, c.field)
		}
	}
	good := []Options{
		{},
		{ResponsesPerSecond: 5},
		{ResponsesPerSecond: MaxResponsesPerSecond, Window: MaxWindow, Slip: MaxSlip, IPv4Prefix: 32, IPv6Prefix: 128, TableSize: 1},
		{ResponsesPerSecond: 1, Window: MinWindow, Slip: 1, IPv4Prefix: 1, IPv6Prefix: 1, LogOnly: true,
			Exempt: []netip.Prefix{netip.MustParsePrefix("10.1.2.3/8"), netip.MustParsePrefix("::/0")}},
	}
	for _, o := range good {
		if _, err := New(o); err != nil {
			t.Errorf("New(%+v): %v", o, err)
		}
	}
}

// Extreme rates and windows do not overflow the fixed-point balance: a bucket at the deepest
// debt of the largest rate and window recovers after exactly the window.
func TestExtremes(t *testing.T) {
	l, clk := newLimiter(t, Options{ResponsesPerSecond: MaxResponsesPerSecond, Window: MaxWindow})
	a := netip.MustParseAddr("192.0.2.1")
	atFloor := func() {
		t.Helper()
		n := 0
		for i := range l.shards {
			for j := range l.shards[i].ents {
				l.shards[i].ents[j].balance = l.minCredit
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d buckets, want 1", n)
		}
	}
	l.Decide(a, Answer, www, typeA)
	atFloor()
	clk.Advance(MaxWindow - time.Microsecond)
	if l.Decide(a, Answer, www, typeA) == Send {
		t.Fatal("sent before the window passed")
	}
	atFloor()
	clk.Advance(MaxWindow)
	if l.Decide(a, Answer, www, typeA) != Send {
		t.Fatal("limited after the window")
	}
	atFloor()
	clk.Advance(MaxWindow + time.Second - time.Nanosecond) // just short of fullAfter
	exhaust(t, l, MaxResponsesPerSecond, "192.0.2.1", Answer, www, typeA)
	clk.Advance(100 * MaxWindow)
	exhaust(t, l, MaxResponsesPerSecond, "192.0.2.1", Answer, www, typeA)
}

func TestAllocs(t *testing.T) {
	l, clk := newLimiter(t, Options{ResponsesPerSecond: 100, Slip: 2, Exempt: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	clients := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}
	for _, c := range clients {
		l.Decide(c, Answer, www, typeA)
		l.Decide(c, NXDomain, zone, typeA)
		l.Decide(c, Error, nil, 0)
	}
	i := 0
	if n := testing.AllocsPerRun(10_000, func() {
		c := clients[i&1]
		i++
		l.Decide(c, Answer, www, typeA)
		l.Decide(c, NXDomain, zone, typeA)
		l.Decide(c, Error, nil, 0)
		clk.Advance(time.Microsecond)
	}); n != 0 {
		t.Errorf("Decide on existing buckets: %v allocs per run, want 0", n)
	}
	exempt := netip.MustParseAddr("10.9.9.9")
	if n := testing.AllocsPerRun(10_000, func() { l.Decide(exempt, Answer, www, typeA) }); n != 0 {
		t.Errorf("Decide for an exempt client: %v allocs per run, want 0", n)
	}
	disabled, _ := New(Options{})
	if n := testing.AllocsPerRun(10_000, func() { disabled.Decide(exempt, Answer, www, typeA) }); n != 0 {
		t.Errorf("disabled Decide: %v allocs per run, want 0", n)
	}

	// A full table reuses buckets: new tokens cost no allocation once it has filled.
	full, _ := newLimiter(t, Options{ResponsesPerSecond: 1, TableSize: 256})
	j := 0
	next := func() {
		j++
		full.Decide(netip.AddrFrom4([4]byte{10, byte(j >> 16), byte(j >> 8), 0}), Answer, www, typeA)
	}
	for range 10_000 {
		next()
	}
	n := testing.AllocsPerRun(100_000, next)
	t.Logf("Decide with eviction: %v allocs per run", n)
	if n > 0.01 {
		t.Errorf("Decide with eviction: %v allocs per run, want ~0", n)
	}
}

func TestConcurrent(t *testing.T) {
	for _, size := range []int{100, DefaultTableSize} {
		l, err := New(Options{ResponsesPerSecond: 50, Slip: 2, TableSize: size,
			Exempt: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}})
		if err != nil {
			t.Fatal(err)
		}
		const (
			workers = 16
			each    = 20_000
		)
		names := [][]byte{www, mail, zone, wire("a.example.org"), wire("b.example.org")}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), 7))
				for range each {
					a := netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(4)), byte(r.IntN(256))})
					l.Decide(a, Kind(r.IntN(3)), names[r.IntN(len(names))], uint16(r.IntN(3)))
				}
			})
		}
		go func() { // Stats concurrently with Decide
			for range 100 {
				l.Stats()
			}
		}()
		wg.Wait()
		st := l.Stats()
		if got := st.Sent + st.Dropped + st.Slipped; got != workers*each {
			t.Errorf("TableSize %d: sent+dropped+slipped = %d, want %d (%+v)", size, got, workers*each, st)
		}
		if st.Buckets > size || st.Exempt == 0 || st.Dropped == 0 {
			t.Errorf("TableSize %d: %+v", size, st)
		}
	}
}

func TestStrings(t *testing.T) {
	for v, want := range map[fmt.Stringer]string{
		Answer: "answer", NXDomain: "nxdomain", Error: "error", Kind(9): "kind(9)",
		Send: "send", Drop: "drop", Slip: "slip", Action(7): "action(7)",
	} {
		if got := v.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", v, got, want)
		}
	}
}
