package feedback

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-gslb/meridian/health/measure"
)

// TestObserveConnReadsTheKernelRTT: a real loopback connection, after a few round trips,
// records a positive RTT under 127.0.0.0/24.
func TestObserveConnReadsTheKernelRTT(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan *net.TCPConn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c.(*net.TCPConn)
	}()
	client, err := net.DialTimeout("tcp", ln.Addr().String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var srv *net.TCPConn
	select {
	case srv = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted within 5s")
	}
	if srv == nil {
		t.Fatal("accept failed")
	}
	defer srv.Close()
	_ = srv.SetDeadline(time.Now().Add(5 * time.Second))
	_ = client.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4)
	for range 10 { // ping-pong: the server's side sees acknowledged data and samples the RTT
		if _, err := srv.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(client, buf); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Write([]byte("pong")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(srv, buf); err != nil {
			t.Fatal(err)
		}
	}
	r := NewRecorder(Options{Proxy: "p1", Region: "eu"})
	r.ObserveConn(srv)
	rep := r.Snapshot()
	if len(rep.RTTs) != 1 {
		t.Fatalf("got %d prefixes %+v, want 1", len(rep.RTTs), rep.RTTs)
	}
	got := rep.RTTs[0]
	if want := netip.MustParsePrefix("127.0.0.0/24"); got.Prefix != want {
		t.Errorf("prefix = %s, want %s", got.Prefix, want)
	}
	if got.RTT <= 0 || got.RTT > time.Second {
		t.Errorf("rtt = %v, want a positive loopback RTT under 1s", got.RTT)
	}
	if got.Samples != 1 {
		t.Errorf("samples = %d, want 1", got.Samples)
	}
	r.ObserveConn(nil) // tolerated
}

func TestObserveAggregatesPerPrefix(t *testing.T) {
	r := NewRecorder(Options{})
	r.Observe(netip.MustParseAddr("81.2.69.7"), 10*time.Millisecond)
	r.Observe(netip.MustParseAddr("::ffff:81.2.69.200"), 20*time.Millisecond) // mapped: same /24
	r.Observe(netip.MustParseAddr("2001:db8:1:2::5"), 30*time.Millisecond)
	r.Observe(netip.MustParseAddr("2001:db8:1:ffff::9"), 30*time.Millisecond)
	r.Observe(netip.MustParseAddr("81.2.70.1"), 0) // no sample
	rep := r.Snapshot()
	want := map[netip.Prefix]measure.PrefixRTT{
		netip.MustParsePrefix("81.2.69.0/24"):    {RTT: 12500 * time.Microsecond, Samples: 2}, // 10 + (20-10)/4
		netip.MustParsePrefix("2001:db8:1::/48"): {RTT: 30 * time.Millisecond, Samples: 2},
	}
	if len(rep.RTTs) != len(want) {
		t.Fatalf("got %+v, want %d prefixes", rep.RTTs, len(want))
	}
	for _, p := range rep.RTTs {
		w, ok := want[p.Prefix]
		if !ok || p.RTT != w.RTT || p.Samples != w.Samples {
			t.Errorf("got %s %v ×%d, want %v ×%d", p.Prefix, p.RTT, p.Samples, w.RTT, w.Samples)
		}
	}
}

// TestEvictionBound: past MaxPrefixes, the least recently seen prefix goes first; a prefix
// seen again is recent.
func TestEvictionBound(t *testing.T) {
	r := NewRecorder(Options{MaxPrefixes: 3})
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i), 1}) }
	for i := range 3 {
		r.Observe(addr(i), time.Millisecond)
	}
	r.Observe(addr(0), time.Millisecond) // 0 is now the most recent; 1 the least
	for i := 3; i < 5; i++ {
		r.Observe(addr(i), time.Millisecond)
	}
	if n := r.Len(); n != 3 {
		t.Fatalf("holding %d prefixes, want 3", n)
	}
	var got []string
	for _, p := range r.Snapshot().RTTs {
		got = append(got, p.Prefix.String())
	}
	want := []string{"10.0.4.0/24", "10.0.3.0/24", "10.0.0.0/24"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got %v, want %v (most recent first)", got, want)
			break
		}
	}
	for i := range 1000 { // a flood of new prefixes never grows it
		r.Observe(netip.AddrFrom4([4]byte{11, byte(i >> 8), byte(i), 1}), time.Millisecond)
	}
	if n := r.Len(); n != 3 {
		t.Errorf("after a flood holding %d prefixes, want 3", n)
	}
}

func TestSnapshotShapeAndAge(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	reg := prometheus.NewRegistry()
	r := NewRecorder(Options{
		Proxy: "fra-1", Region: "eu", MaxAge: time.Minute, Registerer: reg,
		Now: func() time.Time { return now },
		Loads: func() []measure.BackendLoad {
			return measure.Loads(map[string]int64{"eu/192.0.2.2": 0, "eu/192.0.2.1": 7})
		},
	})
	r.Observe(netip.MustParseAddr("192.0.2.10"), 3*time.Millisecond)
	now = now.Add(45 * time.Second)
	r.Observe(netip.MustParseAddr("198.51.100.10"), 4*time.Millisecond)
	if got := testutil.ToFloat64(reg); got != 2 {
		t.Errorf("meridian_proxy_feedback_prefixes = %v, want 2", got)
	}
	now = now.Add(30 * time.Second) // the first is 75s old: past MaxAge
	rep := r.Snapshot()
	if rep.Proxy != "fra-1" || rep.Region != "eu" || !rep.At.Equal(now) {
		t.Errorf("got proxy %q region %q at %v, want fra-1 eu %v", rep.Proxy, rep.Region, rep.At, now)
	}
	if len(rep.RTTs) != 1 || rep.RTTs[0].Prefix != netip.MustParsePrefix("198.51.100.0/24") {
		t.Errorf("rtts = %+v, want only 198.51.100.0/24", rep.RTTs)
	}
	if len(rep.Load) != 2 || rep.Load[0] != (measure.BackendLoad{ID: "eu/192.0.2.1", InFlight: 7}) || rep.Load[1] != (measure.BackendLoad{ID: "eu/192.0.2.2"}) {
		t.Errorf("load = %+v, want eu/192.0.2.1 7, eu/192.0.2.2 0 (sorted)", rep.Load)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	if got := testutil.ToFloat64(reg); got != 1 {
		t.Errorf("meridian_proxy_feedback_prefixes = %v, want 1", got)
	}
}

// TestObserveDoesNotAllocate: a prefix already held is updated in place.
func TestObserveDoesNotAllocate(t *testing.T) {
	r := NewRecorder(Options{MaxPrefixes: 2})
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("203.0.113.1")
	r.Observe(a, time.Millisecond)
	r.Observe(b, time.Millisecond)
	if n := testing.AllocsPerRun(100, func() { r.Observe(a, 2*time.Millisecond) }); n != 0 {
		t.Errorf("updating a prefix allocates %v times, want 0", n)
	}
	i := 0
	if n := testing.AllocsPerRun(100, func() { // evicting reuses the entry
		i++
		r.Observe([]netip.Addr{a, b, c}[i%3], time.Millisecond)
	}); n != 0 {
		t.Errorf("evicting allocates %v times, want 0", n)
	}
}

type recordingSink struct {
	mu   sync.Mutex
	reps []measure.Report
	got  chan struct{}
}

func (s *recordingSink) Record(_ context.Context, r measure.Report) error {
	s.mu.Lock()
	s.reps = append(s.reps, r)
	s.mu.Unlock()
	select {
	case s.got <- struct{}{}:
	default:
	}
	return nil
}

func TestReporterSendsEveryInterval(t *testing.T) {
	r := NewRecorder(Options{Proxy: "p", Region: "eu"})
	r.Observe(netip.MustParseAddr("192.0.2.1"), time.Millisecond)
	sink := &recordingSink{got: make(chan struct{}, 1)}
	rep := NewReporter(r, sink, ReporterOptions{Interval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rep.Run(ctx) }()
	deadline := time.After(5 * time.Second)
	for n := 0; n < 3; {
		select {
		case <-sink.got:
			sink.mu.Lock()
			n = len(sink.reps)
			sink.mu.Unlock()
		case <-deadline:
			t.Fatalf("got %d reports within 5s, want 3", n)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancel")
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if got := sink.reps[0]; got.Proxy != "p" || len(got.RTTs) != 1 {
		t.Errorf("first report %+v, want proxy p with 1 prefix", got)
	}
}
