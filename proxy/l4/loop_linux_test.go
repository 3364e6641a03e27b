//go:build linux

package l4

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

// TestLoopsLetTheWorldStop: an event loop sleeps in epoll_wait as a raw system call, holding its
// P; the garbage collector must still stop it promptly (the runtime's preemption signal ends the
// wait with EINTR and the loop passes a preemption point), and with the loop's P added the rest
// of the process keeps running meanwhile.
func TestLoopsLetTheWorldStop(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	b := startBackend(t, echo)
	s, _ := startProxy(t, Options{Engine: "epoll", Loops: 2, Backends: []*balance.Upstream{b.up}})
	if got := s.Loops(); got != 2 {
		t.Fatalf("Loops() = %d, want 2", got)
	}
	runtime.GOMAXPROCS(procs + s.Loops()) // as meridian serve and meridian proxy do
	defer runtime.GOMAXPROCS(procs)
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := []byte("ping")
	buf := make([]byte, len(msg))
	roundTrip := func() {
		t.Helper()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
	}
	roundTrip()
	time.Sleep(50 * time.Millisecond) // both loops idle in epoll_wait
	var worst time.Duration
	for range 10 {
		start := time.Now()
		runtime.GC()
		worst = max(worst, time.Since(start))
		roundTrip()
	}
	if worst > 100*time.Millisecond {
		t.Errorf("a GC with the loops idle took %v, want well under the loops' 250 ms wait", worst)
	}
	t.Logf("slowest of 10 GCs with two idle loops: %v", worst)
}
