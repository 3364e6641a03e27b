package dns

import (
	"bytes"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
)

func newTestHandler(tb testing.TB) *Handler {
	tb.Helper()
	cfg, err := config.Load("testdata/zone.toml")
	if err != nil {
		tb.Fatal(err)
	}
	h, err := NewHandler(cfg, newTestLogger(), prometheus.NewRegistry())
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

var client = netip.MustParseAddrPort("127.0.0.1:5300")

func newTestLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fastQueries are queries of the shape the fast path takes, in the forms clients send them.
func fastQueries(t testing.TB) [][]byte {
	var out [][]byte
	names := []string{"www.example.test.", "WwW.ExAmPle.TEST.", "nope.example.test.", "alias.example.test.",
		"x.apps.example.test.", "sub.example.test.", "example.test.", "10.2.0.192.in-addr.arpa.", "example.org.", "big.example.test."}
	types := []uint16{mdns.TypeA, mdns.TypeAAAA, mdns.TypeMX, mdns.TypeSOA, mdns.TypeNS, mdns.TypeTXT, mdns.TypeANY}
	for _, n := range names {
		for _, qt := range types {
			for form := range 4 {
				m := new(mdns.Msg)
				m.SetQuestion(n, qt)
				m.Id = uint16(len(out))
				m.RecursionDesired = form%2 == 0
				m.CheckingDisabled = form == 3
				if form >= 2 {
					m.SetEdns0(1232, form == 3)
				}
				b, err := m.Pack()
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, b)
			}
		}
	}
	return out
}

// TestFastPathMatchesSlowPath: for every query the fast path can take, its reply is the slow
// path's reply, byte for byte, over both transports.
func TestFastPathMatchesSlowPath(t *testing.T) {
	queries := fastQueries(t)
	for _, proto := range []Proto{UDP, TCP} {
		h := newTestHandler(t)
		// Warm the cache with differently-cased, differently-flagged twins of every query.
		for _, q := range queries {
			twin := append([]byte(nil), q...)
			for i := headerLen; i < questionName(q); i++ {
				if 'a' <= twin[i] && twin[i] <= 'z' {
					twin[i] -= 'a' - 'A'
				}
			}
			twin[0], twin[1], twin[2] = 0xAB, 0xCD, twin[2]^byte(flagRD>>8)
			h.Respond(make([]byte, 65535), twin, proto, client)
		}
		hits := 0
		for _, q := range queries {
			var pq query
			if !parseFast(q, &pq) {
				t.Fatalf("query %x should be fast-path shaped", q)
			}
			s := h.snap.Load()
			e := s.cache.get(pq.key())
			fast := h.Respond(make([]byte, 65535), q, proto, client)
			slow := h.slow(s, make([]byte, 65535), q, proto, client, time.Now())
			if e != nil && len(e.wire) <= pq.limit(proto, s.ednsMax) {
				hits++
			}
			if !bytes.Equal(fast, slow) {
				var fm, sm mdns.Msg
				_ = fm.Unpack(fast)
				_ = sm.Unpack(slow)
				t.Errorf("%s: fast and slow replies differ\nfast: %x\n%v\nslow: %x\n%v", proto, fast, &fm, slow, &sm)
			}
		}
		if hits < len(queries)*3/4 {
			t.Errorf("%s: fast path served %d of %d queries, want most", proto, hits, len(queries))
		}
	}
}

func TestFastPathAllocatesNothing(t *testing.T) {
	h := newTestHandler(t)
	q := fastQueries(t)[0]
	out := make([]byte, 4096)
	h.Respond(out, q, UDP, client)
	allocs := testing.AllocsPerRun(1000, func() { h.Respond(out, q, UDP, client) })
	if allocs != 0 {
		t.Errorf("fast path allocates %.1f times per query, want 0", allocs)
	}
}

func TestReloadDropsPreparedAnswers(t *testing.T) {
	h := newTestHandler(t)
	q := fastQueries(t)[0]
	h.Respond(make([]byte, 4096), q, UDP, client)
	if n := h.snap.Load().cache.len(); n == 0 {
		t.Fatal("nothing prepared after a query")
	}
	cfg, err := config.Load("testdata/zone.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if n := h.snap.Load().cache.len(); n != 0 {
		t.Errorf("prepared answers after reload = %d, want 0", n)
	}
}

func BenchmarkRespondFast(b *testing.B) {
	h := newTestHandler(b)
	q := fastQueries(b)[0]
	out := make([]byte, 4096)
	h.Respond(out, q, UDP, client)
	b.ReportAllocs()
	for b.Loop() {
		h.Respond(out, q, UDP, client)
	}
}

func BenchmarkRespondSlow(b *testing.B) {
	h := newTestHandler(b)
	q := fastQueries(b)[0]
	out := make([]byte, 4096)
	s := h.snap.Load()
	b.ReportAllocs()
	for b.Loop() {
		h.slow(s, out, q, UDP, client, time.Now())
	}
}

func TestVersionBindRefusedWhenUnset(t *testing.T) {
	cfg, err := config.Load("testdata/zone.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		version string
		rcode   int
	}{{"", mdns.RcodeRefused}, {"meridian 1.0", mdns.RcodeSuccess}} {
		c := *cfg
		c.Server.Version = tc.version
		h, err := NewHandler(&c, newTestLogger(), prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		m := new(mdns.Msg)
		m.SetQuestion("version.bind.", mdns.TypeTXT)
		m.Question[0].Qclass = mdns.ClassCHAOS
		q, _ := m.Pack()
		var resp mdns.Msg
		if err := resp.Unpack(h.Respond(make([]byte, 4096), q, UDP, client)); err != nil {
			t.Fatal(err)
		}
		if resp.Rcode != tc.rcode {
			t.Errorf("version %q: rcode %s, want %s", tc.version, mdns.RcodeToString[resp.Rcode], mdns.RcodeToString[tc.rcode])
		}
	}
}
