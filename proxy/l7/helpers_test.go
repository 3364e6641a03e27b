package l7

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

// backend is a real HTTP server on loopback and the Upstream naming it.
type backend struct {
	name string
	srv  *httptest.Server
	u    *balance.Upstream
}

// newBackend starts a backend that answers "NAME" and echoes what it received in headers
// (X-Backend, X-Got-Path, X-Got-<Header>), unless h is given.
func newBackend(t testing.TB, name string, h http.Handler) *backend {
	t.Helper()
	if h == nil {
		h = echoHandler(name)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u := balance.NewUpstream(srv.Listener.Addr().String(), 1)
	u.ID = name
	return &backend{name: name, srv: srv, u: u}
}

func echoHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		w.Header().Set("X-Got-Path", r.URL.Path)
		w.Header().Set("X-Got-Host", r.Host)
		w.Header().Set("X-Got-Proto", fmt.Sprint(r.ProtoMajor))
		for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded",
			"Connection", "Keep-Alive", "X-Hop", "Te", "Proxy-Connection", "Upgrade", "Trailer"} {
			if v := r.Header.Values(k); len(v) > 0 {
				w.Header().Set("X-Got-"+k, strings.Join(v, " | "))
			}
		}
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Got-Body-Len", fmt.Sprint(len(body)))
		io.WriteString(w, name)
	})
}

func upstreams(bs ...*backend) []*balance.Upstream {
	us := make([]*balance.Upstream, len(bs))
	for i, b := range bs {
		us[i] = b.u
	}
	return us
}

func selector(t testing.TB, name string) balance.Selector {
	t.Helper()
	s, err := balance.New(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("L7_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// startProxy starts a Server on 127.0.0.1:0 and stops it when the test ends. It returns
// the server and its base URL (http:// or https://).
func startProxy(t testing.TB, o Options) (*Server, string) {
	t.Helper()
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	if o.Name == "" {
		o.Name = "test"
	}
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return")
		}
	})
	scheme := "http"
	if o.TLS != nil {
		scheme = "https"
	}
	return s, scheme + "://" + s.Addr().String()
}

// route is one catch-all route over bs with the named selector.
func catchAll(t testing.TB, sel string, bs ...*backend) []*Route {
	return []*Route{{Backends: upstreams(bs...), Selector: selector(t, sel)}}
}

func newClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true},
		Timeout:   10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// get does one request and returns the status, the X-Backend header and the body.
func do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, string(body)
}

func mustReq(t testing.TB, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func get(t testing.TB, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	return do(t, c, mustReq(t, "GET", url, nil))
}

// rawConn dials the proxy for hand-written HTTP.
func rawConn(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// deadPort returns a loopback address nothing listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func httpStatus(code int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) })
}

// waitFor polls cond until it holds, failing the test after 5 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
	}
}

// engines are the engines the cleartext tests run against.
func engines() []string {
	if loopSupported {
		return []string{"go", "loop"}
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
