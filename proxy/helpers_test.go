package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/config"
)

// backend is an HTTP server on loopback that answers every request with its name.
type backend struct {
	name, addr string
	srv        *http.Server
}

// startBackends starts n backends on 127.0.1.1, 127.0.1.2, … sharing one port, as a pool's
// endpoints do; it returns them and the port.
func startBackends(t *testing.T, n int) ([]*backend, int) {
	t.Helper()
	for range 20 {
		first, err := net.Listen("tcp", "127.0.1.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		for i := 2; i <= n; i++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.1.%d:%d", i, port))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) < n {
			for _, ln := range lns {
				ln.Close()
			}
			continue
		}
		var bs []*backend
		for i, ln := range lns {
			bs = append(bs, serveBackend(t, fmt.Sprintf("b%d", i+1), ln))
		}
		return bs, port
	}
	t.Fatal("no port free on 127.0.1.1..n")
	return nil, 0
}

func serveBackend(t *testing.T, name string, ln net.Listener) *backend {
	b := &backend{name: name, addr: ln.Addr().String()}
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name)
	})}
	go b.srv.Serve(ln)
	t.Cleanup(func() { b.srv.Close() })
	return b
}

// parse reads a config from TOML text.
func parse(t *testing.T, toml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.toml", []byte(toml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// start builds, binds and runs the set of cfg; it is stopped, and Run's return checked, when
// the test ends.
func start(t *testing.T, cfg *config.Config) *Set {
	t.Helper()
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return 5s after its context ended")
		}
	})
	return s
}

// counts sends n GETs to the listener and counts the answers by backend name; any failure
// fails the test.
func counts(t *testing.T, s *Set, listener string, n int) map[string]int {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	out := map[string]int{}
	for range n {
		resp, err := c.Get("http://" + s.Addr(listener).String() + "/")
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET: %s %s", resp.Status, body)
		}
		out[strings.TrimSpace(string(body))]++
	}
	return out
}
