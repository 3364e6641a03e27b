package dns_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns"
	"github.com/meridian-gslb/meridian/dns/dnstest"
)

// startTCP serves testdata/zone.toml on 127.0.0.1 with lim, until the test ends.
func startTCP(t *testing.T, lim config.TCPLimits) netip.AddrPort {
	t.Helper()
	h := dnstest.Handler(t, "testdata/zone.toml", nil)
	srv := dns.NewServer(h, dnstest.Logger(t), 1)
	srv.SetTCPLimits(lim)
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Listen(ctx, []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")}); err != nil {
		cancel()
		t.Fatal(err)
	}
	restore := dnstest.HoldProcs(srv.HeldProcs())
	done := make(chan struct{})
	go func() { _ = srv.Run(ctx); restore(); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv.Addrs()[0]
}

// frame is m packed with its TCP length prefix.
func frame(t *testing.T, m *mdns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

func readFrame(t *testing.T, c net.Conn) *mdns.Msg {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		t.Fatalf("read length: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read reply: %v", err)
	}
	m := new(mdns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return m
}

// closedSoon says whether the server closes c within d.
func closedSoon(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	_, err := c.Read(b[:])
	return err == io.EOF
}

func keepaliveQuery(timeout uint16) *mdns.Msg {
	m := dnstest.Msg("www.example.test.", mdns.TypeA)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &mdns.EDNS0_TCP_KEEPALIVE{Code: mdns.EDNS0TCPKEEPALIVE, Timeout: timeout})
	return m
}

func keepalive(m *mdns.Msg) (uint16, bool) {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if k, ok := o.(*mdns.EDNS0_TCP_KEEPALIVE); ok {
				return k.Timeout, true
			}
		}
	}
	return 0, false
}

// TestTCPKeepaliveAndPipelining: over TCP the server states its idle timeout when asked (RFC
// 7828), never over UDP; a client that sends a timeout gets FORMERR; queries written back to
// back on one connection are answered in order.
func TestTCPKeepaliveAndPipelining(t *testing.T) {
	addr := startTCP(t, config.TCPLimits{IdleTimeout: 3 * time.Second})
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var burst []byte
	ids := []uint16{101, 102, 103}
	for i, id := range ids {
		m := keepaliveQuery(0)
		if i == 2 {
			m = keepaliveQuery(50) // a client must not send a timeout
		}
		m.Id = id
		burst = append(burst, frame(t, m)...)
	}
	if _, err := c.Write(burst); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		r := readFrame(t, c)
		if r.Id != id {
			t.Fatalf("reply %d has ID %d, want %d: pipelined queries answered out of order", i, r.Id, id)
		}
		to, ok := keepalive(r)
		switch {
		case i < 2 && (!ok || to != 30):
			t.Errorf("reply %d: keepalive %d (present %v), want 30 (3s in 100 ms units)", i, to, ok)
		case i == 2 && r.Rcode != mdns.RcodeFormatError:
			t.Errorf("keepalive with a timeout from the client: rcode %s, want FORMERR", mdns.RcodeToString[r.Rcode])
		}
	}
	r, err := mdns.Exchange(keepaliveQuery(0), addr.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := keepalive(r); ok {
		t.Error("a UDP reply carries edns-tcp-keepalive")
	}
}

// TestTCPLimits: one client address cannot hold more than its share of connections, a client
// that trickles a query cannot hold a slot past the query timeout, and a flood of idle
// connections leaves UDP and other clients' TCP served.
func TestTCPLimits(t *testing.T) {
	addr := startTCP(t, config.TCPLimits{MaxConns: 600, MaxConnsPerClient: 16, QueryTimeout: 200 * time.Millisecond, IdleTimeout: 5 * time.Second})

	// 500 idle connections from 127.0.0.1: 16 are kept, the rest closed at once.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	refused := 0
	for range 500 {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns[16:] {
		if closedSoon(c, time.Second) {
			refused++
		}
	}
	if refused != 500-16 {
		t.Errorf("%d of the %d connections past the per-client limit were closed, want all", refused, 500-16)
	}
	// Meanwhile UDP, and TCP from another address, are served at once.
	start := time.Now()
	if r, err := mdns.Exchange(dnstest.Msg("www.example.test.", mdns.TypeA), addr.String()); err != nil || len(r.Answer) != 1 {
		t.Fatalf("udp with 500 idle tcp connections: %v %v", r, err)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	other, err := d.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Write(frame(t, dnstest.Msg("www.example.test.", mdns.TypeA))); err != nil {
		t.Fatal(err)
	}
	if r := readFrame(t, other); len(r.Answer) != 1 {
		t.Fatalf("tcp from another address: %v", r)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("served after %v, want at once", took)
	}

	// A trickler: the first length byte, then nothing. Closed after the query timeout, not idle.
	trick, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}).Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer trick.Close()
	if _, err := trick.Write([]byte{0}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if !closedSoon(trick, 2*time.Second) {
		t.Fatal("a connection that trickled one byte was not closed within 2s")
	}
	if took := time.Since(start); took < 150*time.Millisecond || took > 1500*time.Millisecond {
		t.Errorf("trickler closed after %v, want about the 200ms query timeout (not the 5s idle one)", took)
	}
}
