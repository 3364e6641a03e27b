package dnstest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns"
)

// Handler builds a handler for the config file at path, registering metrics on reg (may be nil).
func Handler(t testing.TB, path string, reg prometheus.Registerer) *dns.Handler {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	h, err := dns.NewHandler(cfg, Logger(t), reg)
	if err != nil {
		t.Fatalf("handler: %v", err)
	}
	return h
}

// Logger discards logs unless the test runs with -v.
func Logger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// Start serves h on UDP and TCP at host:0 (host "127.0.0.1" or "::1") and stops it when the
// test ends. The sockets are bound when Start returns, so queries may be sent at once.
func Start(t testing.TB, h *dns.Handler, host string) netip.AddrPort {
	t.Helper()
	srv := dns.NewServer(h, Logger(t), 2)
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Listen(ctx, []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr(host), 0)}); err != nil {
		cancel()
		t.Fatalf("listen: %v", err)
	}
	restore := HoldProcs(srv.HeldProcs())
	done := make(chan error, 1)
	go func() { err := srv.Run(ctx); restore(); done <- err }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("server did not stop within 5s")
		}
	})
	return srv.Addrs()[0]
}

// procsMu serialises HoldProcs: servers of parallel tests must not lose an update.
var procsMu sync.Mutex

// HoldProcs raises GOMAXPROCS by n (a server's HeldProcs) and returns what lowers it again, as a
// node does for its servers: without it, UDP readers that keep their P would starve the test.
func HoldProcs(n int) (restore func()) {
	add := func(d int) {
		procsMu.Lock()
		defer procsMu.Unlock()
		runtime.GOMAXPROCS(max(1, runtime.GOMAXPROCS(0)+d))
	}
	add(n)
	return func() { add(-n) }
}

// Msg builds a query with RD clear, as a resolver asks an authoritative server.
func Msg(qname string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(qname, qtype)
	m.RecursionDesired = false
	return m
}

// Exchange sends m over net ("udp" or "tcp") and fails the test on a transport error.
func Exchange(t testing.TB, addr netip.AddrPort, network string, m *mdns.Msg) *mdns.Msg {
	t.Helper()
	resp, _ := ExchangeWire(t, addr, network, m)
	return resp
}

// ExchangeWire is Exchange that also returns the reply's size on the wire.
func ExchangeWire(t testing.TB, addr netip.AddrPort, network string, m *mdns.Msg) (*mdns.Msg, int) {
	t.Helper()
	conn, err := net.DialTimeout(network, addr.String(), 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	co := &mdns.Conn{Conn: conn, UDPSize: 65535}
	if err := co.WriteMsg(m); err != nil {
		t.Fatalf("%s query %v: %v", network, m.Question, err)
	}
	wire, err := co.ReadMsgHeader(nil)
	if err != nil {
		t.Fatalf("%s query %v: %v", network, m.Question, err)
	}
	resp := new(mdns.Msg)
	if err := resp.Unpack(wire); err != nil {
		t.Fatalf("%s query %v: reply does not parse: %v", network, m.Question, err)
	}
	if resp.Id != m.Id {
		t.Fatalf("reply ID %d, want %d", resp.Id, m.Id)
	}
	return resp, len(wire)
}

// RR parses one record in zone-file text, failing the test on error.
func RR(t testing.TB, s string) mdns.RR {
	t.Helper()
	rr, err := mdns.NewRR(s)
	if err != nil {
		t.Fatalf("bad RR %q: %v", s, err)
	}
	return rr
}
