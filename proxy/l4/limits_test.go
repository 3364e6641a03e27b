package l4

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/proxy/balance"
	"github.com/meridian-gslb/meridian/proxy/stats"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// deadAddr is a loopback address nothing listens on: connects are refused.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// blackhole is a loopback listener whose accept queue is full, so further connects hang
// (Linux drops the SYN) until they time out.
func blackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil { // queue of one, never accepted
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}).String()
	for i := 0; ; i++ { // fill the queue until a connect hangs
		c, err := net.DialTimeout("tcp4", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
		if i == 8 {
			t.Fatalf("blackhole %s still accepts connections", addr)
		}
	}
	return addr
}

func TestConnectFailure(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		t.Run("refused backend is skipped and ejected", func(t *testing.T) {
			good := startBackend(t, named("good"))
			dead := balance.NewUpstream(deadAddr(t), 1)
			dead.ID = "dead"
			m := stats.New(nil)
			o := &balance.Outlier{Failures: 2, Base: time.Minute}
			s, _ := startProxy(t, Options{Engine: engine, Name: "cf", Backends: []*balance.Upstream{dead, good.up},
				Selector: first{}, Outlier: o, Metrics: m})
			for i := range 4 {
				if got := whichBackend(t, dial(t, s.Addr())); got != "good" {
					t.Fatalf("connection %d reached %q, want good", i, got)
				}
			}
			if !dead.Ejected() {
				t.Errorf("dead backend not ejected after repeated connect failures")
			}
			if got := testutil.ToFloat64(m.Ejections.WithLabelValues("cf", "dead")); got != 1 {
				t.Errorf("ejections = %v, want 1", got)
			}
		})
		t.Run("no backend connects: client closed", func(t *testing.T) {
			var ups []*balance.Upstream
			for range 4 {
				ups = append(ups, balance.NewUpstream(deadAddr(t), 1))
			}
			m := stats.New(nil)
			obs := &observer{}
			o := &balance.Outlier{Failures: 1, Base: time.Minute} // ejects each backend tried
			s, _ := startProxy(t, Options{Engine: engine, Name: "cf", Backends: ups, Metrics: m, Feedback: obs, Outlier: o})
			dialRejected(t, s.Addr())
			if got := testutil.ToFloat64(m.Rejected.WithLabelValues("cf", "no_backend")); got != 1 {
				t.Errorf("rejected no_backend = %v, want 1", got)
			}
			eventually(t, time.Second, "observed", func() bool { return obs.total() == 1 })
			tried := 0
			for _, u := range ups {
				if u.Ejected() {
					tried++
				}
				if u.InFlight() != 0 {
					t.Errorf("%s in flight = %d, want 0", u.Addr, u.InFlight())
				}
			}
			if tried != connectTries {
				t.Errorf("backends tried = %d, want %d (the first and 2 more)", tried, connectTries)
			}
		})
		t.Run("connect timeout then next backend", func(t *testing.T) {
			hole := balance.NewUpstream(blackhole(t), 1)
			good := startBackend(t, named("good"))
			s, _ := startProxy(t, Options{Engine: engine, Backends: []*balance.Upstream{hole, good.up}, Selector: first{},
				ConnectTimeout: 150 * time.Millisecond})
			start := time.Now()
			c := dial(t, s.Addr())
			if got := whichBackend(t, c); got != "good" {
				t.Fatalf("reached %q, want good", got)
			}
			if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
				t.Errorf("first byte after %v, want the 150ms connect timeout and then the next backend", d)
			}
		})
	})
}

func TestMaxConns(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		b := startBackend(t, echo)
		m := stats.New(nil)
		obs := &observer{}
		s, _ := startProxy(t, Options{Engine: engine, Name: "mc", Backends: []*balance.Upstream{b.up}, MaxConns: 2, Metrics: m, Feedback: obs})
		c1, c2 := dial(t, s.Addr()), dial(t, s.Addr())
		roundTrip(t, c1, "one")
		roundTrip(t, c2, "two")
		dialRejected(t, s.Addr())
		if got := testutil.ToFloat64(m.Rejected.WithLabelValues("mc", "max_conns")); got != 1 {
			t.Errorf("rejected max_conns = %v, want 1", got)
		}
		// c1 and c2 are open, so the one call is the rejected connection's.
		eventually(t, time.Second, "rejected connection observed", func() bool { return obs.total() == 1 })
		c1.Close()
		eventually(t, 2*time.Second, "slot freed", func() bool { return s.active.Load() == 1 })
		roundTrip(t, dial(t, s.Addr()), "three")
		roundTrip(t, c2, "two still works")
	})
}

func TestMaxConnsPerBackend(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a, b := startBackend(t, named("a")), startBackend(t, named("b"))
		m := stats.New(nil)
		s, _ := startProxy(t, Options{Engine: engine, Name: "pb", Backends: []*balance.Upstream{a.up, b.up}, Selector: first{},
			MaxConnsPerBackend: 1, Metrics: m})
		if got := whichBackend(t, dial(t, s.Addr())); got != "a" {
			t.Fatalf("first connection on %q, want a", got)
		}
		if got := whichBackend(t, dial(t, s.Addr())); got != "b" {
			t.Fatalf("second connection on %q, want b (a is full)", got)
		}
		dialRejected(t, s.Addr())
		if got := testutil.ToFloat64(m.Rejected.WithLabelValues("pb", "backend_max_conns")); got != 1 {
			t.Errorf("rejected backend_max_conns = %v, want 1", got)
		}
		if a.up.InFlight() != 1 || b.up.InFlight() != 1 {
			t.Errorf("in flight a=%d b=%d, want 1 and 1", a.up.InFlight(), b.up.InFlight())
		}
	})
}

func TestIdleTimeout(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		b := startBackend(t, echo)
		const idle = 200 * time.Millisecond
		s, _ := startProxy(t, Options{Engine: engine, Backends: []*balance.Upstream{b.up}, IdleTimeout: idle})

		busy, quiet := dial(t, s.Addr()), dial(t, s.Addr())
		roundTrip(t, busy, "x")
		roundTrip(t, quiet, "x")
		closed := make(chan time.Duration, 1)
		go func() { closed <- waitClosed(t, quiet, 3*time.Second) }()
		for range 16 { // 800 ms of traffic every 50 ms: four idle timeouts long
			roundTrip(t, busy, "ping")
			time.Sleep(idle / 4)
		}
		if d := <-closed; d < idle || d > idle+idle/2+100*time.Millisecond {
			t.Errorf("idle connection closed after %v, want %v (plus a sweep)", d, idle)
		}
		roundTrip(t, busy, "still open")
	})
}
