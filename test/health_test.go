package test

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// backend is an HTTP server on loopback that can be killed and brought back on its address.
type backend struct {
	addr string
	srv  *http.Server
}

func startBackend(t *testing.T, addr string) *backend {
	t.Helper()
	b, err := newBackend(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.kill)
	return b
}

// newBackend serves /health on addr; the caller kills it.
func newBackend(addr string) (*backend, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	b := &backend{addr: ln.Addr().String(), srv: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
		}
	})}}
	go func() { _ = b.srv.Serve(ln) }()
	return b, nil
}

func (b *backend) kill() { _ = b.srv.Close() }

// healthNode is a node on testdata/health.toml.tmpl with its three backends.
type healthNode struct {
	dir, path string
	bs        []*backend
	vars      healthVars
	n         *node
}

// startHealthNode starts three backends and a node on testdata/health.toml.tmpl probing them
// every interval.
func startHealthNode(t *testing.T, interval string) healthNode {
	t.Helper()
	return startHealthNodeFrom(t, "health.toml.tmpl", interval, nil)
}

// startHealthNodeFrom is startHealthNode on another template of the same shape; prepare, when
// not nil, writes what the config needs beside it (a token file) before the node starts.
func startHealthNodeFrom(t *testing.T, tmpl, interval string, prepare func(dir string)) healthNode {
	t.Helper()
	h := healthNode{dir: t.TempDir(), vars: healthVars{Interval: interval}}
	for range 3 {
		b := startBackend(t, "127.0.0.1:0")
		h.bs = append(h.bs, b)
		h.vars.Backends = append(h.vars.Backends, b.addr)
	}
	h.vars.ports = freePorts(t)
	if prepare != nil {
		prepare(h.dir)
	}
	h.path = writeConfig(t, h.dir, tmpl, h.vars)
	h.n = startNode(t, h.dir, h.vars.ports, "serve", "-c", h.path)
	return h
}

// healthVars fill testdata/health.toml.tmpl.
type healthVars struct {
	ports
	Interval string
	Backends []string
}

// TestHealthFailover: killing backends takes their endpoints out of the answers within the
// failover bound, a pool below min_healthy fails over to the next, recovery brings them back,
// and a node killed with SIGKILL restarts serving the state it had persisted.
func TestHealthFailover(t *testing.T) {
	h := startHealthNode(t, "200ms")
	dir, bs, vars, p, path, n := h.dir, h.bs, h.vars, h.vars.ports, h.path, h.n
	answer := func() []string {
		out := dig(t, "127.0.0.1", p.DNS, "+short", "www.example.test", "A")
		f := strings.Fields(out)
		slices.Sort(f)
		return f
	}
	// detection bound: interval × fall + timeout = 0.5 s; allow scheduling slack on a busy box.
	const bound = 500 * time.Millisecond
	waitAnswer := func(want []string, why string) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			got := answer()
			if slices.Equal(got, want) {
				return time.Since(start)
			}
			if time.Since(start) > bound+3*time.Second {
				t.Fatalf("%s: answer %v, want %v within %v", why, got, want, bound+3*time.Second)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ttl := func() string { // the TTL of the first answer record
		f := strings.Fields(dig(t, "127.0.0.1", p.DNS, "+noall", "+answer", "www.example.test", "A"))
		if len(f) < 2 {
			return ""
		}
		return f[1]
	}
	waitAnswer([]string{"127.0.1.1", "127.0.1.2"}, "at start")
	// The endpoints just came up (from unknown): answers stay degraded for 3 intervals, then
	// carry the full ttl.
	for start := time.Now(); ttl() != "5"; time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 3*time.Second {
			t.Fatalf("healthy answers still carry TTL %s 3s after start, want the ttl 5", ttl())
		}
	}

	bs[0].kill()
	took := waitAnswer([]string{"127.0.1.2"}, "after killing 127.0.1.1's backend")
	t.Logf("127.0.1.1 left the answers %v after its backend died (bound %v + TTL 5s)", took.Round(time.Millisecond), bound)
	if got := ttl(); got != "1" {
		t.Errorf("degraded answer TTL %s, want the degraded_ttl 1", got)
	}

	bs[1].kill()
	took = waitAnswer([]string{"127.0.2.1"}, "after killing pool a's last backend")
	t.Logf("pool a failed over to b %v after its last backend died", took.Round(time.Millisecond))

	if _, m := get(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", p.HTTP)); !strings.Contains(m, `meridian_health_target_up{target="a/127.0.1.2"} 0`) ||
		!strings.Contains(m, `meridian_service_failover_bound_seconds{service="www.example.test."} 5.5`) ||
		!strings.Contains(m, `meridian_health_endpoint_up{endpoint="127.0.1.2",pool="a"} 0`) ||
		!strings.Contains(m, `meridian_pool_endpoints{pool="a"} 2`) || !strings.Contains(m, `meridian_pool_serving_endpoints{pool="a"} 0`) ||
		!strings.Contains(m, `meridian_pool_serving_endpoints{pool="b"} 1`) || !strings.Contains(m, `meridian_pool_min_healthy{pool="a"} 1`) ||
		!strings.Contains(m, `meridian_service_all_pools_down{on_all_down="all",service="www.example.test."} 0`) {
		t.Errorf("metrics lack the target state, the pools' counts or the failover bound (0.2s × 2 + 0.1s + ttl 5s):\n%s", grepLines(m, "meridian_"))
	}

	bs[0] = startBackend(t, bs[0].addr)
	took = waitAnswer([]string{"127.0.1.1"}, "after 127.0.1.1's backend came back")
	t.Logf("127.0.1.1 came back %v after its backend did", took.Round(time.Millisecond))
	if got := ttl(); got != "1" {
		t.Errorf("answer TTL %s just after a state change, want the degraded_ttl 1", got)
	}

	// The store has it: 127.0.1.1 up, 127.0.1.2 down. Kill the node outright, and start it again
	// with probes so rare that none runs before we look: it must answer from the persisted state.
	n.signal(syscall.SIGKILL)
	err := <-n.done
	n.done <- err // for the cleanup, which waits for it too
	vars.Interval = "1h"
	writeConfig(t, dir, "health.toml.tmpl", vars)
	startNode(t, dir, p, "serve", "-c", path)
	if got := answer(); !slices.Equal(got, []string{"127.0.1.1"}) {
		t.Errorf("after kill -9 and restart: answer %v, want the persisted state's [127.0.1.1]", got)
	}
}
