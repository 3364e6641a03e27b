package l4

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/proxy/balance"
	"github.com/meridian-gslb/meridian/proxy/stats"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestEchoMetricsAndFeedback(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		b := startBackend(t, echo)
		m := stats.New(nil)
		obs := &observer{}
		s, _ := startProxy(t, Options{Engine: engine, Name: "l4", Backends: []*balance.Upstream{b.up}, Metrics: m, Feedback: obs})

		c := dial(t, s.Addr())
		for range 10 {
			roundTrip(t, c, "hello through the proxy")
		}
		if got := testutil.ToFloat64(m.Active.WithLabelValues("l4")); got != 1 {
			t.Errorf("active = %v, want 1", got)
		}
		c.Close()
		eventually(t, 2*time.Second, "connection ended", func() bool {
			return testutil.ToFloat64(m.Active.WithLabelValues("l4")) == 0 && obs.count(c) > 0
		})
		if got := obs.count(c); got != 1 {
			t.Errorf("ObserveConn calls = %d, want 1", got)
		}
		if got := testutil.ToFloat64(m.Connections.WithLabelValues("l4")); got != 1 {
			t.Errorf("connections = %v, want 1", got)
		}
		for _, dir := range []string{"in", "out"} {
			if got := testutil.ToFloat64(m.Bytes.WithLabelValues("l4", dir)); got != 230 {
				t.Errorf("bytes %s = %v, want 230", dir, got)
			}
		}
		if got := b.up.InFlight(); got != 0 {
			t.Errorf("backend in flight = %d, want 0", got)
		}
	})
}

// TestHalfClose: the client sends, half-closes, and still reads the backend's whole reply,
// which the backend writes only after it saw the client's EOF.
func TestHalfClose(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		tests := []struct {
			name       string
			reply      int
			wantSplice bool
		}{
			{"small reply", 100, false},
			{"bulk reply (spliced by go)", 8 << 20, true},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				reply := bytes.Repeat([]byte("0123456789abcdef"), tc.reply/16)
				b := startBackend(t, func(c *net.TCPConn) {
					got, err := io.ReadAll(c) // until the client's FIN
					if err != nil || string(got) != "request" {
						return
					}
					c.Write(reply)
				})
				s, _ := startProxy(t, Options{Engine: engine, Backends: []*balance.Upstream{b.up}})
				c := dial(t, s.Addr())
				io.WriteString(c, "request")
				if err := c.CloseWrite(); err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(c)
				if err != nil {
					t.Fatalf("read reply: %v", err)
				}
				if sha256.Sum256(got) != sha256.Sum256(reply) {
					t.Fatalf("reply: %d bytes, want %d and the same content", len(got), len(reply))
				}
				want := tc.wantSplice && engine == "go"
				if spliced := s.spliced.Load() > 0; spliced != want {
					t.Errorf("spliced = %v (%d bytes), want %v", spliced, s.spliced.Load(), want)
				}
			})
		}
	})
}

// TestBulkBothWays streams in both directions at once, through the splice path, and checks
// every byte arrives.
func TestBulkBothWays(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		b := startBackend(t, echo)
		m := stats.New(nil)
		s, _ := startProxy(t, Options{Engine: engine, Name: "bulk", Backends: []*balance.Upstream{b.up}, Metrics: m})
		c := dial(t, s.Addr())
		c.SetDeadline(time.Now().Add(10 * time.Second))
		data := make([]byte, 16<<20)
		for i := range data {
			data[i] = byte(i * 7)
		}
		errc := make(chan error, 1)
		go func() {
			_, err := c.Write(data)
			if err == nil {
				err = c.CloseWrite()
			}
			errc <- err
		}()
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("write: %v", err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("got %d bytes, want %d identical", len(got), len(data))
		}
		if engine == "go" && s.spliced.Load() == 0 {
			t.Errorf("no byte went through splice")
		}
		c.Close()
		eventually(t, 2*time.Second, "bytes counted", func() bool {
			return testutil.ToFloat64(m.Bytes.WithLabelValues("bulk", "in")) == float64(len(data)) &&
				testutil.ToFloat64(m.Bytes.WithLabelValues("bulk", "out")) == float64(len(data))
		})
	})
}

func TestSetBackends(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a := startBackend(t, named("a"))
		b := startBackend(t, named("b"))
		s, _ := startProxy(t, Options{Engine: engine, Backends: []*balance.Upstream{a.up}})
		held := dial(t, s.Addr())
		if got := whichBackend(t, held); got != "a" {
			t.Fatalf("backend = %q, want a", got)
		}
		s.SetBackends([]*balance.Upstream{b.up}, new(balance.LeastConn))
		for range 3 {
			if got := whichBackend(t, dial(t, s.Addr())); got != "b" {
				t.Errorf("after swap backend = %q, want b", got)
			}
		}
		roundTrip(t, held, "still on a") // connections made before the swap stay
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	bad := []Options{
		{},
		{Listen: "127.0.0.1:0", ProxyProtocol: "v3"},
		{Listen: "127.0.0.1:0", Engine: "io_uring"},
		{Listen: "127.0.0.1:0", Loops: -1},
	}
	for _, o := range bad {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded, want an error", o)
		}
	}
}

// TestLoops: with several event loops, connections are spread over all of them, each works,
// and Serve returns once every loop has stopped, with every descriptor closed.
func TestLoops(t *testing.T) {
	if !epollSupported {
		t.Skip("event loops need Linux")
	}
	b := startBackend(t, echo)
	fds := openFDs(t)
	s, stop := startProxy(t, Options{Engine: "epoll", Loops: 3, Backends: []*balance.Upstream{b.up}})
	var conns []net.Conn
	for i := range 6 {
		c := dial(t, s.Addr())
		roundTrip(t, c, fmt.Sprintf("connection %d", i))
		conns = append(conns, c)
	}
	s.mu.Lock()
	perLoop := map[*loop]int{}
	for c := range s.conns {
		perLoop[c.l]++
	}
	s.mu.Unlock()
	if len(perLoop) != 3 {
		t.Errorf("connections on %d loops, want 3", len(perLoop))
	}
	for l, n := range perLoop {
		if n != 2 {
			t.Errorf("loop %p has %d connections, want 2", l, n)
		}
	}
	for i, c := range conns {
		roundTrip(t, c, fmt.Sprintf("again %d", i))
		c.Close()
	}
	if err := stop(); err != nil {
		t.Fatalf("Serve = %v", err)
	}
	for _, l := range s.loops {
		select {
		case <-l.done:
		default:
			t.Errorf("a loop still runs after Serve returned")
		}
	}
	eventually(t, 2*time.Second, "descriptors closed", func() bool { return openFDs(t) == fds })
}

// openFDs counts this process's open sockets, epoll sets and eventfds (not pipes: Go's
// splice, which the echo backend uses, keeps a pool of them that only the GC closes).
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		if strings.HasPrefix(l, "socket:") || strings.HasPrefix(l, "anon_inode:") {
			n++
		}
	}
	return n
}
