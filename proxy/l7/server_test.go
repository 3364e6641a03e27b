package l7

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/meridian-gslb/meridian/proxy/stats"
)

// observer sends every observed connection's remote address.
type observer chan string

func (o observer) ObserveConn(c *net.TCPConn) {
	if _, err := c.SyscallConn(); err != nil { // the socket must still be open
		o <- "closed already"
		return
	}
	o <- c.RemoteAddr().String()
}

func TestShutdownFinishesInFlight(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a, release, entered := blocking(t, "a")
		obs := make(observer, 16)
		s, err := New(Options{Engine: engine, Name: "test", Listen: "127.0.0.1:0", Feedback: obs, Routes: catchAll(t, "round_robin", a)})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Listen(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- s.Serve(ctx) }()
		addr := s.Addr().String()

		idle := rawConn(t, addr) // an idle keep-alive connection is closed at shutdown
		fmt.Fprint(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		<-entered
		release <- struct{}{} // let the first one through
		idleBR := bufio.NewReader(idle)
		if resp, err := http.ReadResponse(idleBR, nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("first request: %v", err)
		} else {
			io.ReadAll(resp.Body)
		}

		busy := rawConn(t, addr)
		fmt.Fprint(busy, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		<-entered // in flight now
		cancel()
		waitClosed(t, addr)
		close(release)
		resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("in-flight request at shutdown: %v", err)
		}
		if !resp.Close {
			t.Error("response during shutdown without Connection: close")
		}
		if _, err := idleBR.ReadByte(); err != io.EOF {
			t.Errorf("idle connection: %v, want EOF", err)
		}
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve did not return")
		}
		// Every accepted connection is observed once, while still open; the probes of
		// waitClosed may add some.
		seen := map[string]int{}
		for len(obs) > 0 {
			seen[<-obs]++
		}
		for _, c := range []net.Conn{idle, busy} {
			if n := seen[c.LocalAddr().String()]; n != 1 {
				t.Errorf("connection %s observed %d times, want 1 (seen %v)", c.LocalAddr(), n, seen)
			}
		}
		if seen["closed already"] > 0 {
			t.Error("a connection was observed after it was closed")
		}
	})
}

// waitClosed waits until addr refuses connections.
func waitClosed(t *testing.T, addr string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("listener still accepting after shutdown")
}

func TestMetrics(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a := newBackend(t, "a", nil)
		reg := prometheus.NewRegistry()
		m := stats.New(reg)
		_, url := startProxy(t, Options{Engine: engine, Metrics: m, Routes: []*Route{{Host: "a.test", Backends: upstreams(a), Selector: selector(t, "round_robin")}}})
		c := newClient()
		for range 3 {
			req := mustReq(t, "POST", url+"/", strings.NewReader("12345"))
			req.Host = "a.test"
			do(t, c, req)
		}
		get(t, c, url+"/") // no route: 404
		c.CloseIdleConnections()
		// Once the proxy has closed the connection, every request on it has been counted.
		waitFor(t, "active connections back to 0", func() bool {
			return testutil.ToFloat64(m.Active.WithLabelValues("test")) == 0
		})
		if got := testutil.ToFloat64(m.Requests.WithLabelValues("test", "a", "200")); got != 3 {
			t.Errorf("requests{a,200} = %v, want 3", got)
		}
		if got := testutil.ToFloat64(m.Requests.WithLabelValues("test", "", "404")); got != 1 {
			t.Errorf("requests{'',404} = %v, want 1", got)
		}
		var h dto.Metric
		m.Duration.WithLabelValues("test").(prometheus.Histogram).Write(&h)
		if n := h.GetHistogram().GetSampleCount(); n != 4 {
			t.Errorf("duration samples = %d, want 4", n)
		}
		if got := testutil.ToFloat64(m.Bytes.WithLabelValues("test", "in")); got != 15 {
			t.Errorf("bytes in = %v, want 15", got)
		}
		if got := testutil.ToFloat64(m.Bytes.WithLabelValues("test", "out")); got != 3 {
			t.Errorf("bytes out = %v, want 3", got)
		}
		if got := testutil.ToFloat64(m.Connections.WithLabelValues("test")); got < 1 {
			t.Errorf("connections = %v, want >= 1", got)
		}
		if probs, err := testutil.CollectAndLint(m.Requests); err != nil || len(probs) > 0 {
			t.Errorf("lint: %v %v", probs, err)
		}
	})
}

func TestSetRoutes(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a, release, entered := blocking(t, "a")
		b := newBackend(t, "b", nil)
		s, url := startProxy(t, Options{Engine: engine, Routes: catchAll(t, "round_robin", a)})
		done := make(chan string)
		go func() { _, body := get(t, newClient(), url+"/"); done <- body }()
		<-entered
		s.SetRoutes(catchAll(t, "round_robin", b))
		if _, body := get(t, newClient(), url+"/"); body != "b" {
			t.Errorf("after SetRoutes: %q, want b", body)
		}
		close(release)
		if body := <-done; body != "a" {
			t.Errorf("in-flight request: %q, want a (its route)", body)
		}
	})
}
