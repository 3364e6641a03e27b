package cookie

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// The RFC 9018 Appendix A values.
const (
	// secretA is the server secret of A.1 to A.3 and the old secret of A.4.
	secretA = "e5e973e5a6b2a43f48e7dc849e37bfcf"
	// secretOldA4 is the secret the A.4 client's cookie was made with; the
	// server has since rolled over to secretNewA4.
	secretOldA4 = "dd3bdf9344b678b185a6f5cb60fca715"
	secretNewA4 = "445536bcd2513298075a5d379663c962"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func mustSecret(t testing.TB, s string) Secret {
	t.Helper()
	sec, err := ParseSecret([]byte(s))
	if err != nil {
		t.Fatalf("ParseSecret(%q): %v", s, err)
	}
	return sec
}

// clock returns a settable clock for NewJar, reading as Unix time *at.
func clock(at *int64) func() time.Time {
	return func() time.Time { return time.Unix(*at, 0) }
}

// at returns a fixed clock reading Unix time sec.
func at(sec int64) func() time.Time {
	return func() time.Time { return time.Unix(sec, 0) }
}

func client8(t testing.TB, s string) [ClientLen]byte {
	t.Helper()
	return [ClientLen]byte(mustHex(t, s))
}

// TestRFC9018Vectors replays the worked examples of RFC 9018 Appendix A: each
// query's COOKIE option is checked as the server would, and the option of each
// reply (client cookie echoed, then Make's server cookie) must be the RFC's byte
// for byte.
func TestRFC9018Vectors(t *testing.T) {
	type check struct {
		at      int64
		verdict Verdict
		refresh bool
	}
	for _, tc := range []struct {
		name     string
		current  string
		previous string // "" for none
		ip       string
		query    string // the COOKIE option of the query
		checks   []check
		now      int64  // when the server replies
		reply    string // the COOKIE option of the reply
	}{
		{
			name:    "A.1 learning a new server cookie",
			current: secretA,
			ip:      "198.51.100.100",
			query:   "2464c4abcf10c957",
			checks:  []check{{1559731985, ClientOnly, false}},
			now:     1559731985, // Wed Jun  5 10:53:05 UTC 2019
			reply:   "2464c4abcf10c957" + "010000005cf79f111f8130c3eee29480",
		},
		{
			name:    "A.2 the same client learning a renewed (fresh) server cookie",
			current: secretA,
			ip:      "198.51.100.100",
			// The cookie learned in A.1, sent back 40 minutes later: still
			// Good, but past the half hour, so the server renews it.
			query:  "2464c4abcf10c957" + "010000005cf79f111f8130c3eee29480",
			checks: []check{{1559734385, Good, true}},
			now:    1559734385, // 11:33:05
			reply:  "2464c4abcf10c957" + "010000005cf7a871d4a564a1442aca77",
		},
		{
			name:    "A.3 another client learning a renewed server cookie",
			current: secretA,
			ip:      "203.0.113.203",
			// Made at 09:46:25 (1559727985) with the Reserved bytes set,
			// which the hash covers as sent. It verifies at its own time;
			// at the reply time, 1h52m later, it is past the one-hour
			// lifetime this server keeps, so it is Bad and replaced.
			query: "fc93fc62807ddb86" + "01abcdef5cf78f71a314227b6679ebf5",
			checks: []check{
				{1559727985, Good, false},
				{1559727985 + MaxAge, Good, true},
				{1559734700, Bad, false},
			},
			now:   1559734700, // 11:38:20
			reply: "fc93fc62807ddb86" + "010000005cf7a9acf73a7810aca2381e",
		},
		{
			name:     "A.4 IPv6 query with rolled over secret",
			current:  secretNewA4,
			previous: secretOldA4,
			ip:       "2001:db8:220:1:59de:d0f4:8769:82b8",
			// Made at 13:36:57 (1559741817) under the old secret, which the
			// server still accepts as its previous one.
			query:  "22681ab97d52c298" + "010000005cf7c57926556bd0934c72f8",
			checks: []check{{1559741961, Good, false}},
			now:    1559741961,
			reply:  "22681ab97d52c298" + "010000005cf7c609a6bb79d16625507a",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var now int64
			var prev *Secret
			if tc.previous != "" {
				p := mustSecret(t, tc.previous)
				prev = &p
			}
			j := NewJar(mustSecret(t, tc.current), prev, clock(&now))
			ip := netip.MustParseAddr(tc.ip)
			query := mustHex(t, tc.query)

			for _, c := range tc.checks {
				now = c.at
				client, v, refresh := j.Check(query, ip)
				if client != [ClientLen]byte(query[:ClientLen]) {
					t.Errorf("at %d: client = %x, want %x", c.at, client, query[:ClientLen])
				}
				if v != c.verdict || refresh != c.refresh {
					t.Errorf("at %d: Check = %v, refresh %v; want %v, refresh %v", c.at, v, refresh, c.verdict, c.refresh)
				}
			}

			now = tc.now
			client := [ClientLen]byte(query[:ClientLen])
			reply := j.Make(client[:], client, ip)
			if want := mustHex(t, tc.reply); !bytes.Equal(reply, want) {
				t.Errorf("reply COOKIE = %x\n                 want %x", reply, want)
			}
			// The server cookie just made must check Good, not needing
			// a refresh.
			if _, v, refresh := j.Check(reply, ip); v != Good || refresh {
				t.Errorf("Check(own reply) = %v, refresh %v; want Good, false", v, refresh)
			}
		})
	}
}

// TestRFC9018RolloverNeedsPrevious: without the previous secret, the A.4
// client's cookie is not ours.
func TestRFC9018RolloverNeedsPrevious(t *testing.T) {
	j := NewJar(mustSecret(t, secretNewA4), nil, at(1559741961))
	query := mustHex(t, "22681ab97d52c298010000005cf7c57926556bd0934c72f8")
	ip := netip.MustParseAddr("2001:db8:220:1:59de:d0f4:8769:82b8")
	if _, v, _ := j.Check(query, ip); v != Bad {
		t.Errorf("Check with only the new secret = %v, want Bad", v)
	}
	old := NewJar(mustSecret(t, secretOldA4), nil, at(1559741961))
	if _, v, _ := old.Check(query, ip); v != Good {
		t.Errorf("Check with the old secret as current = %v, want Good", v)
	}
}

var (
	testClient = [ClientLen]byte{0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57}
	testIP     = netip.MustParseAddr("192.0.2.1")
	testIP6    = netip.MustParseAddr("2001:db8::1")
)

// option returns a COOKIE option: client then server.
func option(client [ClientLen]byte, server []byte) []byte {
	return append(client[:], server...)
}

func TestCheckGood(t *testing.T) {
	const t0 = 1700000000
	now := int64(t0)
	secret := mustSecret(t, secretA)
	j := NewJar(secret, nil, clock(&now))

	for _, ip := range []netip.Addr{testIP, testIP6} {
		opt := option(testClient, j.Make(nil, testClient, ip))
		if len(opt) != ClientLen+ServerLen {
			t.Fatalf("option length %d, want %d", len(opt), ClientLen+ServerLen)
		}
		client, v, refresh := j.Check(opt, ip)
		if client != testClient || v != Good || refresh {
			t.Errorf("%v: Check(fresh) = %x, %v, %v; want %x, Good, false", ip, client, v, refresh, testClient)
		}
	}

	// After a rotation the old cookie is still Good through previous, and
	// new cookies are made with the new secret: a Jar knowing only the old
	// secret rejects them.
	opt := option(testClient, j.Make(nil, testClient, testIP))
	next := mustSecret(t, secretNewA4)
	rotated := NewJar(next, &secret, clock(&now))
	if _, v, _ := rotated.Check(opt, testIP); v != Good {
		t.Errorf("after rotation, Check(cookie of previous secret) = %v, want Good", v)
	}
	fresh := option(testClient, rotated.Make(nil, testClient, testIP))
	if bytes.Equal(fresh, opt) {
		t.Errorf("rotated Jar made the same cookie as the old one: %x", fresh)
	}
	if _, v, _ := rotated.Check(fresh, testIP); v != Good {
		t.Errorf("after rotation, Check(cookie of current secret) = %v, want Good", v)
	}
	if _, v, _ := j.Check(fresh, testIP); v != Bad {
		t.Errorf("old Jar, Check(cookie of new secret) = %v, want Bad", v)
	}
	// Once previous is dropped, the old cookie is Bad.
	if _, v, _ := NewJar(next, nil, clock(&now)).Check(opt, testIP); v != Bad {
		t.Errorf("after previous dropped, Check(old cookie) = %v, want Bad", v)
	}
}

func TestCheckBad(t *testing.T) {
	const t0 = 1700000000
	now := int64(t0)
	j := NewJar(mustSecret(t, secretA), nil, clock(&now))
	good := option(testClient, j.Make(nil, testClient, testIP))

	flip := func(i int, bit byte) []byte {
		b := bytes.Clone(good)
		b[i] ^= bit
		return b
	}
	otherClient := testClient
	otherClient[7] ^= 1

	for _, tc := range []struct {
		name string
		opt  []byte
		ip   netip.Addr
	}{
		{"hash bit 0 flipped", flip(ClientLen+8, 0x01), testIP},
		{"hash bit 63 flipped", flip(ClientLen+15, 0x80), testIP},
		{"reserved byte changed", flip(ClientLen+2, 0x01), testIP},
		{"timestamp changed", flip(ClientLen+7, 0x01), testIP},
		{"other client IP", good, netip.MustParseAddr("192.0.2.2")},
		{"other client IP, IPv4-mapped", good, netip.MustParseAddr("::ffff:192.0.2.2")},
		{"IPv6 client", good, testIP6},
		{"other client cookie", append(otherClient[:], good[ClientLen:]...), testIP},
		{"version 0", flip(ClientLen, 0x01), testIP},
		{"version 2", flip(ClientLen, 0x03), testIP},
		{"someone else's 8-byte server cookie", option(testClient, good[ClientLen:ClientLen+8]), testIP},
		{"17-byte server cookie", append(bytes.Clone(good), 0), testIP},
		{"32-byte server cookie", append(bytes.Clone(good), make([]byte, 16)...), testIP},
	} {
		client, v, refresh := j.Check(tc.opt, tc.ip)
		if v != Bad || refresh {
			t.Errorf("%s: Check = %v, refresh %v; want Bad, false", tc.name, v, refresh)
		}
		if client != [ClientLen]byte(tc.opt[:ClientLen]) {
			t.Errorf("%s: client = %x, want %x", tc.name, client, tc.opt[:ClientLen])
		}
	}

	// A version-2 cookie whose hash is right for its bytes is still Bad:
	// only version 1 is understood.
	var head [8]byte
	head[0] = 2
	binary.BigEndian.PutUint32(head[4:], t0)
	v2 := binary.LittleEndian.AppendUint64(option(testClient, head[:]), hash(j.current, &testClient, &head, testIP))
	if _, v, _ := j.Check(v2, testIP); v != Bad {
		t.Errorf("well-hashed version 2 cookie: Check = %v, want Bad", v)
	}
	head[0] = 1
	v1 := binary.LittleEndian.AppendUint64(option(testClient, head[:]), hash(j.current, &testClient, &head, testIP))
	if !bytes.Equal(v1, good) {
		t.Fatalf("hand-built cookie %x differs from Make's %x", v1, good)
	}
}

// TestCheckTime walks one cookie through its life: Good for an hour (refresh
// wanted after half of it), Bad after; Good up to five minutes in the future,
// Bad beyond.
func TestCheckTime(t *testing.T) {
	for _, t0 := range []int64{
		1700000000,
		// The last seconds before the 32-bit timestamp wraps (in 2106):
		// the cookie's age must still come out right on both sides.
		1<<32 - 1,
		1<<32 - 120,
		// Just after the wrap.
		1 << 32,
		1<<32 + 60,
	} {
		now := t0
		j := NewJar(mustSecret(t, secretA), nil, clock(&now))
		opt := option(testClient, j.Make(nil, testClient, testIP))
		for _, tc := range []struct {
			offset  int64 // seconds after the cookie was made
			verdict Verdict
			refresh bool
		}{
			{0, Good, false},
			{29 * 60, Good, false},
			{RefreshAge, Good, false},
			{RefreshAge + 1, Good, true},
			{31 * 60, Good, true},
			{59 * 60, Good, true},
			{MaxAge, Good, true},
			{MaxAge + 1, Bad, false},
			{61 * 60, Bad, false},
			{24 * 3600, Bad, false},
			{-60, Good, false},
			{-MaxSkew, Good, false},
			{-MaxSkew - 1, Bad, false},
			{-6 * 60, Bad, false},
			{-24 * 3600, Bad, false},
			// Half the serial space away, in either direction.
			{1 << 31, Bad, false},
			{-(1 << 31) + 1, Bad, false},
		} {
			now = t0 + tc.offset
			_, v, refresh := j.Check(opt, testIP)
			if v != tc.verdict || refresh != tc.refresh {
				t.Errorf("made at %d, checked %+ds later (timestamp %#x, now %#x): %v, refresh %v; want %v, refresh %v",
					t0, tc.offset, uint32(t0), uint32(now), v, refresh, tc.verdict, tc.refresh)
			}
		}
	}
}

// TestCheckAcrossWrap checks a cookie stamped just before the 32-bit timestamp
// wraps, checked just after: its raw timestamp is larger than now's, yet it is
// a few minutes old, not 136 years in the future.
func TestCheckAcrossWrap(t *testing.T) {
	now := int64(1<<32 - 100) // timestamp 0xffffff9c
	j := NewJar(mustSecret(t, secretA), nil, clock(&now))
	server := j.Make(nil, testClient, testIP)
	if ts := uint32(server[4])<<24 | uint32(server[5])<<16 | uint32(server[6])<<8 | uint32(server[7]); ts != 0xffffff9c {
		t.Fatalf("timestamp %#x, want 0xffffff9c", ts)
	}
	opt := option(testClient, server)

	now += 100 + 31*60 // timestamp 0x0000074c: wrapped
	if _, v, refresh := j.Check(opt, testIP); v != Good || !refresh {
		t.Errorf("33 minutes old across the wrap: %v, refresh %v; want Good, true", v, refresh)
	}
	now += 30 * 60
	if _, v, _ := j.Check(opt, testIP); v != Bad {
		t.Errorf("63 minutes old across the wrap: %v, want Bad", v)
	}

	// And the other way: made just after the wrap, the clock a little behind
	// (another node), so the cookie is 4 minutes in the future.
	now = 1<<32 + 100
	opt = option(testClient, j.Make(nil, testClient, testIP))
	now -= 4 * 60
	if _, v, refresh := j.Check(opt, testIP); v != Good || refresh {
		t.Errorf("4 minutes in the future across the wrap: %v, refresh %v; want Good, false", v, refresh)
	}
	now -= 2 * 60
	if _, v, _ := j.Check(opt, testIP); v != Bad {
		t.Errorf("6 minutes in the future across the wrap: %v, want Bad", v)
	}
}

func TestCheckLengths(t *testing.T) {
	j := NewJar(mustSecret(t, secretA), nil, at(1700000000))
	buf := make([]byte, 64)
	for i := range buf {
		buf[i] = byte(0xa0 + i)
	}
	for n := 0; n <= len(buf); n++ {
		want := Bad // well-formed, but not a cookie of ours
		switch {
		case n < 8, n > 8 && n < 16, n > 40:
			want = Malformed
		case n == 8:
			want = ClientOnly
		}
		client, v, refresh := j.Check(buf[:n], testIP)
		if v != want || refresh {
			t.Errorf("length %d: %v, refresh %v; want %v, false", n, v, refresh, want)
		}
		wantClient := [ClientLen]byte{}
		if want != Malformed {
			wantClient = [ClientLen]byte(buf[:ClientLen])
		}
		if client != wantClient {
			t.Errorf("length %d: client %x, want %x", n, client, wantClient)
		}
	}
	if _, v, _ := j.Check(nil, testIP); v != Malformed {
		t.Errorf("nil option: %v, want Malformed", v)
	}
}

func TestMakeLayout(t *testing.T) {
	const t0 = 1559731985
	j := NewJar(mustSecret(t, secretA), nil, at(t0))
	prefix := []byte("prefix")
	got := j.Make(prefix, testClient, testIP)
	if !bytes.HasPrefix(got, []byte("prefix")) || len(got) != len(prefix)+ServerLen {
		t.Fatalf("Make(prefix) = %x: want prefix kept and %d bytes appended", got, ServerLen)
	}
	sc := got[len(prefix):]
	if want := []byte{1, 0, 0, 0, 0x5c, 0xf7, 0x9f, 0x11}; !bytes.Equal(sc[:8], want) {
		t.Errorf("version|reserved|timestamp = %x, want %x", sc[:8], want)
	}

	// An IPv4-mapped address (dual-stack socket) is the same client as the
	// IPv4 address; a zone does not matter.
	mapped := j.Make(nil, testClient, netip.MustParseAddr("::ffff:192.0.2.1"))
	if !bytes.Equal(mapped, sc) {
		t.Errorf("IPv4-mapped client: %x, want %x as for 192.0.2.1", mapped, sc)
	}
	v6 := j.Make(nil, testClient, testIP6)
	if zoned := j.Make(nil, testClient, testIP6.WithZone("eth0")); !bytes.Equal(zoned, v6) {
		t.Errorf("zoned IPv6 client: %x, want %x", zoned, v6)
	}
	// The zero Addr hashes no address bytes: not the same as any real one.
	zero := j.Make(nil, testClient, netip.Addr{})
	if bytes.Equal(zero, j.Make(nil, testClient, netip.IPv6Unspecified())) ||
		bytes.Equal(zero, j.Make(nil, testClient, netip.IPv4Unspecified())) {
		t.Errorf("zero Addr made the same cookie as an unspecified address")
	}
}

func TestNewJarDefaultClock(t *testing.T) {
	j := NewJar(RandomSecret(), nil, nil)
	before := uint32(time.Now().Unix())
	sc := j.Make(nil, testClient, testIP)
	after := uint32(time.Now().Unix())
	ts := uint32(sc[4])<<24 | uint32(sc[5])<<16 | uint32(sc[6])<<8 | uint32(sc[7])
	if ts < before || ts > after {
		t.Errorf("timestamp %d not within [%d, %d]", ts, before, after)
	}
	if _, v, _ := j.Check(option(testClient, sc), testIP); v != Good {
		t.Errorf("Check(fresh, time.Now) = %v, want Good", v)
	}
}

func TestRandomSecret(t *testing.T) {
	a, b := RandomSecret(), RandomSecret()
	if a == b || a == (Secret{}) {
		t.Errorf("RandomSecret gave %x then %x", a, b)
	}
}

func TestParseSecret(t *testing.T) {
	want := Secret{0xe5, 0xe9, 0x73, 0xe5, 0xa6, 0xb2, 0xa4, 0x3f, 0x48, 0xe7, 0xdc, 0x84, 0x9e, 0x37, 0xbf, 0xcf}
	for _, in := range []string{
		secretA,
		strings.ToUpper(secretA),
		secretA + "\n",
		"  \t" + secretA + "\r\n",
	} {
		got, err := ParseSecret([]byte(in))
		if err != nil || got != want {
			t.Errorf("ParseSecret(%q) = %x, %v; want %x, nil", in, got, err, want)
		}
	}

	for _, tc := range []struct {
		in   string
		want []string // substrings of the error
	}{
		{"", []string{"0 hex digits", "want exactly 32"}},
		{"\n", []string{"0 hex digits", "want exactly 32"}},
		{secretA[:31], []string{"31 hex digits", "want exactly 32"}},
		{secretA + "0", []string{"33 hex digits", "want exactly 32"}},
		{secretA + secretA, []string{"64 hex digits", "want exactly 32"}},
		{"0x" + secretA[2:], []string{"character 2", `'x'`, "not a hexadecimal digit"}},
		{secretA[:31] + "g", []string{"character 32", `'g'`, "not a hexadecimal digit"}},
		{secretA[:16] + " " + secretA[16:], []string{"character 17", `' '`, "not a hexadecimal digit"}},
		{"e5e973e5-a6b2-a43f-48e7-dc849e37bfcf", []string{"character 9", `'-'`}},
	} {
		got, err := ParseSecret([]byte(tc.in))
		if err == nil {
			t.Errorf("ParseSecret(%q) = %x, want an error", tc.in, got)
			continue
		}
		if got != (Secret{}) {
			t.Errorf("ParseSecret(%q) returned %x with its error, want zero", tc.in, got)
		}
		for _, s := range tc.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("ParseSecret(%q) error %q does not say %q", tc.in, err, s)
			}
		}
		if len(tc.in) >= 8 && strings.Contains(err.Error(), strings.TrimSpace(tc.in)[:8]) {
			t.Errorf("ParseSecret(%q) error %q quotes the secret", tc.in, err)
		}
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[Verdict]string{Malformed: "Malformed", ClientOnly: "ClientOnly", Bad: "Bad", Good: "Good", 9: "Verdict(9)"} {
		if got := v.String(); got != want {
			t.Errorf("Verdict(%d).String() = %q, want %q", uint8(v), got, want)
		}
	}
}

func TestAllocs(t *testing.T) {
	prev := mustSecret(t, secretOldA4)
	j := NewJar(mustSecret(t, secretA), &prev, at(1700000000))
	buf := make([]byte, 0, ClientLen+ServerLen)
	opt := option(testClient, j.Make(nil, testClient, testIP6))
	oldOpt := option(testClient, NewJar(prev, nil, at(1700000000)).Make(nil, testClient, testIP))

	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"Make v4", func() { buf = j.Make(buf[:0], testClient, testIP) }},
		{"Make v6", func() { buf = j.Make(buf[:0], testClient, testIP6) }},
		{"Check Good", func() { j.Check(opt, testIP6) }},
		{"Check Good via previous", func() { j.Check(oldOpt, testIP) }},
		{"Check Bad", func() { j.Check(opt, testIP) }},
		{"Check ClientOnly", func() { j.Check(opt[:ClientLen], testIP) }},
		{"Check Malformed", func() { j.Check(opt[:3], testIP) }},
	} {
		if n := testing.AllocsPerRun(1000, tc.f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", tc.name, n)
		}
	}
	if _, v, _ := j.Check(oldOpt, testIP); v != Good {
		t.Fatalf("previous-secret cookie: %v, want Good", v)
	}
}

func BenchmarkMake(b *testing.B) {
	j := NewJar(RandomSecret(), nil, nil)
	buf := make([]byte, 0, ClientLen+ServerLen)
	for _, ip := range []netip.Addr{testIP, testIP6} {
		b.Run(map[bool]string{true: "v4", false: "v6"}[ip.Is4()], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				buf = j.Make(buf[:0], testClient, ip)
			}
		})
	}
}

func BenchmarkCheck(b *testing.B) {
	prev := RandomSecret()
	j := NewJar(RandomSecret(), &prev, nil)
	for _, ip := range []netip.Addr{testIP, testIP6} {
		opt := option(testClient, j.Make(nil, testClient, ip))
		old := option(testClient, NewJar(prev, nil, nil).Make(nil, testClient, ip))
		name := map[bool]string{true: "v4", false: "v6"}[ip.Is4()]
		for _, c := range []struct {
			name string
			opt  []byte
		}{{"current", opt}, {"previous", old}} {
			b.Run(name+"/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, v, _ := j.Check(c.opt, ip); v != Good {
						b.Fatal(v)
					}
				}
			})
		}
	}
}
