package l4

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

// backend is a real loopback TCP server for tests.
type backend struct {
	addr     string
	up       *balance.Upstream
	accepted atomic.Int64
}

// startBackend serves handle for every connection on 127.0.0.1:0 until the test ends.
func startBackend(t testing.TB, handle func(c *net.TCPConn)) *backend {
	t.Helper()
	return startBackendOn(t, "tcp4", "127.0.0.1:0", handle)
}

func startBackendOn(t testing.TB, network, addr string, handle func(c *net.TCPConn)) *backend {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatalf("backend listen: %v", err)
	}
	b := &backend{addr: ln.Addr().String()}
	b.up = balance.NewUpstream(b.addr, 1)
	b.up.ID = b.addr
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.accepted.Add(1)
			mu.Lock()
			open[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					mu.Lock()
					delete(open, c)
					mu.Unlock()
					c.Close()
				}()
				handle(c.(*net.TCPConn))
			}()
		}
	}()
	return b
}

// echo copies the connection back to itself, then half-closes.
func echo(c *net.TCPConn) {
	io.Copy(c, c)
	c.CloseWrite()
}

// named writes name and a newline, then echoes: clients learn which backend they reached.
func named(name string) func(c *net.TCPConn) {
	return func(c *net.TCPConn) {
		if _, err := io.WriteString(c, name+"\n"); err != nil {
			return
		}
		echo(c)
	}
}

// startProxy runs a Server for o (Listen defaulting to 127.0.0.1:0) until the test ends and
// returns it with a stop function that cancels Serve and returns its error.
func startProxy(t testing.TB, o Options) (*Server, func() error) {
	t.Helper()
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Name == "" {
		o.Name = "test"
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return startProxyServer(t, s)
}

// startProxyServer is startProxy for a Server already made.
func startProxyServer(t testing.TB, s *Server) (*Server, func() error) {
	t.Helper()
	if err := s.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	var once sync.Once
	var serveErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case serveErr = <-done:
			case <-time.After(10 * time.Second):
				serveErr = errors.New("Serve did not return within 10s")
			}
		})
		return serveErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, stop
}

// dial connects to addr with a 5 s deadline on all I/O.
func dial(t testing.TB, addr net.Addr) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 2*time.Second)
	if err != nil {
		t.Fatalf("dial proxy: %v", err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

var noDeadline time.Time

// dialRejected connects to a proxy that must close the connection at once: a reset that
// reaches the connect, or a connection that ends without data. It returns the connection's
// local address ("" when the connect itself failed).
func dialRejected(t testing.TB, addr net.Addr) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 2*time.Second)
	if err != nil {
		if errors.Is(err, syscall.ECONNRESET) {
			return ""
		}
		t.Fatalf("dial proxy: %v", err)
	}
	defer c.Close()
	waitClosed(t, c, 2*time.Second)
	return c.LocalAddr().String()
}

// whichBackend reads the name line a named backend sends first.
func whichBackend(t testing.TB, c net.Conn) string {
	t.Helper()
	var b [64]byte
	n := 0
	for n < len(b) {
		k, err := c.Read(b[n : n+1])
		if err != nil {
			t.Fatalf("read backend name: %v", err)
		}
		n += k
		if b[n-1] == '\n' {
			return string(b[:n-1])
		}
	}
	t.Fatalf("no backend name line")
	return ""
}

// roundTrip writes msg and reads it back in full.
func roundTrip(t testing.TB, c net.Conn, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo: %v", err)
	}
	if string(got) != msg {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
}

// waitClosed reads c until it ends and returns how long that took; the test fails if c
// delivers data or stays open past limit.
func waitClosed(t testing.TB, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(limit))
	var b [1]byte
	_, err := bufio.NewReader(c).Read(b[:])
	if err == nil {
		t.Fatalf("read data, want the connection closed")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", limit)
	}
	return time.Since(start)
}

// eventually polls cond every 5 ms until it holds or d passes.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// observer counts ObserveConn calls per client connection.
type observer struct {
	mu    sync.Mutex
	calls map[string]int // by the client's remote address as seen by the proxy
}

func (o *observer) ObserveConn(c *net.TCPConn) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.calls == nil {
		o.calls = map[string]int{}
	}
	o.calls[c.RemoteAddr().String()]++
}

func (o *observer) total() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, k := range o.calls {
		n += k
	}
	return n
}

func (o *observer) count(client net.Conn) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.calls[client.LocalAddr().String()]
}

// first is a selector that always picks the first available upstream.
type first struct{}

func (first) Select(pool []*balance.Upstream, _ string) *balance.Upstream {
	for _, u := range pool {
		if u.Available() {
			return u
		}
	}
	return nil
}

// engines are the data paths every behaviour test runs on.
func engines() []string {
	if epollSupported {
		return []string{"epoll", "go"}
	}
	return []string{"go"}
}

// forEngines runs f as one subtest per engine.
func forEngines(t *testing.T, f func(t *testing.T, engine string)) {
	t.Helper()
	for _, e := range engines() {
		t.Run(e, func(t *testing.T) { f(t, e) })
	}
}
