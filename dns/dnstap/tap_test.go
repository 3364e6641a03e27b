package dnstap

import (
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

	"github.com/meridian-gslb/meridian/config"
)

func testConfig() config.Dnstap {
	return config.Dnstap{Sample: 1, Buffer: 100, Identity: "node-a", Queries: true, Responses: true}
}

func open(t *testing.T, c config.Dnstap) (*Tap, *Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	tap, err := Open(c, Options{Metrics: m, Version: "meridian test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tap.Close)
	return tap, m, reg
}

// send logs one query for name from client, with extra.
func send(t *testing.T, tap *Tap, name, client, extra string) bool {
	t.Helper()
	e := tap.Get()
	if e == nil {
		return false
	}
	q := new(mdns.Msg)
	q.SetQuestion(name, mdns.TypeA)
	r := new(mdns.Msg)
	r.SetReply(q)
	r.Answer = append(r.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 30}, A: net.IPv4(192, 0, 2, 1)})
	qw, _ := q.Pack()
	rw, _ := r.Pack()
	e.Query, e.Response = append(e.Query, qw...), append(e.Response, rw...)
	e.QueryTime, e.ResponseTime = time.Now(), time.Now()
	e.Client = netip.MustParseAddrPort(client)
	e.Extra = append(e.Extra, extra...)
	tap.Send(e)
	return true
}

func decode(t *testing.T, frames [][]byte) []*dnstap.Dnstap {
	t.Helper()
	var out []*dnstap.Dnstap
	for _, f := range frames {
		d := new(dnstap.Dnstap)
		if err := proto.Unmarshal(f, d); err != nil {
			t.Fatalf("unmarshal frame: %v", err)
		}
		out = append(out, d)
	}
	return out
}

// readFile reads every frame of a dnstap file with golang-dnstap's reader.
func readFile(t *testing.T, path string) [][]byte {
	t.Helper()
	in, err := dnstap.NewFrameStreamInputFromFilename(path)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan []byte, 1000)
	in.ReadInto(ch)
	close(ch)
	var out [][]byte
	for f := range ch {
		out = append(out, f)
	}
	return out
}

func TestFileOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.dnstap")
	c := testConfig()
	c.File = path
	tap, m, reg := open(t, c)
	for _, name := range []string{"www.example.test.", "api.example.test."} {
		if !send(t, tap, name, "192.0.2.7:5300", "service="+name) {
			t.Fatal("buffer full with 100 free entries")
		}
	}
	if !send(t, tap, "v6.example.test.", "[2001:db8::1]:53000", "") {
		t.Fatal("buffer full")
	}
	tap.Close()
	got := decode(t, readFile(t, path))
	if len(got) != 6 {
		t.Fatalf("read %d messages, want 6", len(got))
	}
	wantTypes := []dnstap.Message_Type{dnstap.Message_AUTH_QUERY, dnstap.Message_AUTH_RESPONSE}
	for i, d := range got {
		msg := d.GetMessage()
		if typ := msg.GetType(); typ != wantTypes[i%2] {
			t.Errorf("message %d: type %v, want %v", i, typ, wantTypes[i%2])
		}
		if string(d.GetIdentity()) != "node-a" || string(d.GetVersion()) != "meridian test" {
			t.Errorf("message %d: identity %q version %q, want node-a, meridian test", i, d.GetIdentity(), d.GetVersion())
		}
		wire := msg.GetQueryMessage()
		if i%2 == 1 {
			wire = msg.GetResponseMessage()
			if msg.ResponseTimeSec == nil || msg.QueryTimeSec == nil {
				t.Errorf("message %d: a response carries the query and response times", i)
			}
		}
		var dm mdns.Msg
		if err := dm.Unpack(wire); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if i%2 == 1 && len(dm.Answer) != 1 {
			t.Errorf("message %d: response has %d answers, want 1", i, len(dm.Answer))
		}
	}
	if x := string(got[0].GetExtra()); x != "service=www.example.test." {
		t.Errorf("extra = %q, want service=www.example.test.", x)
	}
	if got[4].Extra != nil {
		t.Errorf("extra = %q, want none", got[4].Extra)
	}
	if fam, port := got[4].GetMessage().GetSocketFamily(), got[4].GetMessage().GetQueryPort(); fam != dnstap.SocketFamily_INET6 || port != 53000 {
		t.Errorf("v6 client: family %v port %d, want INET6 53000", fam, port)
	}
	if a := net.IP(got[0].GetMessage().GetQueryAddress()); !a.Equal(net.IPv4(192, 0, 2, 7)) {
		t.Errorf("query address %v, want 192.0.2.7", a)
	}
	if n := testutil.ToFloat64(m.sent); n != 6 {
		t.Errorf("sent = %v, want 6", n)
	}
	if probs, err := testutil.CollectAndLint(reg); err != nil || len(probs) > 0 {
		t.Errorf("lint: %v %v", probs, err)
	}
}

func TestFileOnlyQueries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.dnstap")
	c := testConfig()
	c.File, c.Responses = path, false
	tap, _, _ := open(t, c)
	send(t, tap, "www.example.test.", "192.0.2.7:5300", "")
	tap.Close()
	got := decode(t, readFile(t, path))
	if len(got) != 1 || got[0].GetMessage().GetType() != dnstap.Message_AUTH_QUERY {
		t.Fatalf("got %d messages (%v), want one AUTH_QUERY", len(got), got)
	}
}

// collector accepts one Frame Streams session on ln, as a dnstap collector does, and sends its
// frames to the returned channel.
func collector(t *testing.T, ln net.Listener) chan []byte {
	t.Helper()
	ch := make(chan []byte, 1000)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		in, err := dnstap.NewFrameStreamInputTimeout(c, true, 5*time.Second)
		if err != nil {
			t.Errorf("collector handshake: %v", err)
			return
		}
		in.ReadInto(ch)
	}()
	return ch
}

func receive(t *testing.T, ch chan []byte, n int) []*dnstap.Dnstap {
	t.Helper()
	var frames [][]byte
	timeout := time.After(10 * time.Second)
	for len(frames) < n {
		select {
		case f := <-ch:
			frames = append(frames, f)
		case <-timeout:
			t.Fatalf("received %d frames, want %d", len(frames), n)
		}
	}
	return decode(t, frames)
}

func TestSocketOutputs(t *testing.T) {
	tests := []struct {
		name   string
		listen func(t *testing.T) (net.Listener, config.Dnstap)
	}{
		{"unix", func(t *testing.T) (net.Listener, config.Dnstap) {
			path := filepath.Join(t.TempDir(), "tap.sock")
			ln, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			c := testConfig()
			c.Socket = path
			return ln, c
		}},
		{"tcp", func(t *testing.T) (net.Listener, config.Dnstap) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			c := testConfig()
			c.TCP = ln.Addr().(*net.TCPAddr).AddrPort()
			return ln, c
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln, c := tc.listen(t)
			defer ln.Close()
			ch := collector(t, ln)
			tap, m, _ := open(t, c)
			send(t, tap, "www.example.test.", "192.0.2.7:5300", "service=www.example.test.")
			got := receive(t, ch, 2) // flushed within flushEvery
			if got[0].GetMessage().GetType() != dnstap.Message_AUTH_QUERY || got[1].GetMessage().GetType() != dnstap.Message_AUTH_RESPONSE {
				t.Errorf("types %v, %v; want AUTH_QUERY, AUTH_RESPONSE", got[0].GetMessage().GetType(), got[1].GetMessage().GetType())
			}
			if x := string(got[1].GetExtra()); x != "service=www.example.test." {
				t.Errorf("extra = %q", x)
			}
			tap.Close() // STOP, and the collector's FINISH
			if n := testutil.ToFloat64(m.dropped); n != 0 {
				t.Errorf("dropped = %v, want 0", n)
			}
		})
	}
}

// TestDropsWhileUnreachable: with no collector the buffer fills and further messages are
// dropped and counted; once one listens, what was buffered is delivered.
func TestDropsWhileUnreachable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tap.sock")
	c := testConfig()
	c.Socket, c.Buffer = path, 8 // 4 queries of 2 messages
	tap, m, _ := open(t, c)
	sent := 0
	for range 10 {
		if send(t, tap, "www.example.test.", "192.0.2.7:5300", "") {
			sent++
		}
	}
	if sent != 4 {
		t.Errorf("%d queries buffered, want 4", sent)
	}
	if n := testutil.ToFloat64(m.dropped); n != 12 {
		t.Errorf("dropped = %v, want 12 (6 queries × 2 messages)", n)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ch := collector(t, ln)
	receive(t, ch, 8) // redialled within retryEvery
	if n := testutil.ToFloat64(m.sent); n != 8 {
		t.Errorf("sent = %v, want 8", n)
	}
}

// TestSlowCollector: a collector that accepts and then reads nothing never blocks Get/Send;
// the overflow is counted.
func TestSlowCollector(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tap.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(2 * time.Second) // reads nothing: the handshake waits
		}
	}()
	c := testConfig()
	c.Socket, c.Buffer = path, 100
	tap, m, _ := open(t, c)
	start := time.Now()
	for range 1000 {
		send(t, tap, "www.example.test.", "192.0.2.7:5300", "")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("1000 sends took %v: the query path waited for the output", d)
	}
	if n := testutil.ToFloat64(m.dropped); n < 1800 {
		t.Errorf("dropped = %v, want at least 1800", n)
	}
}

func TestSampled(t *testing.T) {
	for _, frac := range []float64{0.01, 0.1, 0.5} {
		c := testConfig()
		c.File, c.Sample = filepath.Join(t.TempDir(), "q.dnstap"), frac
		tap, _, _ := open(t, c)
		n := 0
		for id := range 1 << 16 {
			if tap.Sampled(uint16(id), 5300) {
				n++
			}
		}
		if got := float64(n) / (1 << 16); got < frac*0.9 || got > frac*1.1 {
			t.Errorf("sample %v: logged a fraction %v", frac, got)
		}
		if tap.Sampled(1234, 5300) != tap.Sampled(1234, 5300) {
			t.Errorf("sampling is not deterministic per query")
		}
	}
}

func TestUpdate(t *testing.T) {
	c := testConfig()
	c.File = filepath.Join(t.TempDir(), "q.dnstap")
	tap, _, _ := open(t, c)
	next := c
	next.Sample, next.Identity, next.Version = 0.5, "other", "v9"
	if !tap.SameOutput(next) {
		t.Fatal("only the settings changed, but SameOutput is false")
	}
	tap.Update(next)
	if m := tap.meta.Load(); string(m.identity) != "other" || string(m.version) != "v9" {
		t.Errorf("identity %q version %q after Update", m.identity, m.version)
	}
	next.File += ".2"
	if tap.SameOutput(next) {
		t.Error("another file is the same output")
	}
	if !strings.HasPrefix(tap.String(), "dnstap file ") {
		t.Errorf("String() = %q", tap.String())
	}
}

// TestGetSendAllocs: once an entry's buffers have grown, logging a query allocates nothing.
func TestGetSendAllocs(t *testing.T) {
	c := testConfig()
	c.File = filepath.Join(t.TempDir(), "q.dnstap")
	tap, _, _ := open(t, c)
	qw, rw := make([]byte, 40), make([]byte, 60)
	client := netip.MustParseAddrPort("[2001:db8::1]:5300")
	log := func() {
		e := tap.Get()
		if e == nil {
			return // the writer is behind: dropped, which allocates nothing either
		}
		e.Query, e.Response = append(e.Query, qw...), append(e.Response, rw...)
		e.QueryTime, e.ResponseTime, e.Client = time.Now(), time.Now(), client
		tap.Send(e)
	}
	for range 2 * len(tap.ring) { // every entry's buffers grown once
		log()
		time.Sleep(10 * time.Microsecond)
	}
	if n := testing.AllocsPerRun(1000, log); n != 0 {
		t.Errorf("Get, copies, Send: %v allocations, want 0", n)
	}
}
