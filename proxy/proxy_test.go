package proxy

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/health"
)

// poolConfig is an http listener over pool p's endpoints 127.0.1.1..n at port.
func poolConfig(port, n int, extra string) string {
	var eps []string
	for i := 1; i <= n; i++ {
		eps = append(eps, fmt.Sprintf(`{ address = "127.0.1.%d" }`, i))
	}
	return fmt.Sprintf(`
[server]
dns = ["127.0.0.1:5353"]
[regions.eu]
continents = ["EU"]
[pools.p]
region = "eu"
endpoints = [%s]
[proxy.web]
listen = "127.0.0.1:0"
pool = "p"
port = %d
drain_timeout = "1s"
%s`, strings.Join(eps, ", "), port, extra)
}

func TestPoolBackendsSpread(t *testing.T) {
	bs, port := startBackends(t, 3)
	s := start(t, parse(t, poolConfig(port, 3, "")))
	got := counts(t, s, "web", 30)
	for _, b := range bs {
		if got[b.name] != 10 {
			t.Errorf("round robin over 3 backends: %v, want 10 each", got)
			break
		}
	}
	infos := s.Backends()
	if len(infos) != 3 || infos[0].ID != "p/127.0.1.1" || infos[0].Addr != fmt.Sprintf("127.0.1.1:%d", port) ||
		infos[0].Listener != "web" || !infos[0].Available || infos[0].InFlight != 0 {
		t.Errorf("backends = %+v, want the pool's endpoint IDs at the port, available", infos)
	}
}

func TestExplicitBackends(t *testing.T) {
	bs, _ := startBackends(t, 2)
	cfg := parse(t, fmt.Sprintf(`
[server]
dns = ["127.0.0.1:5353"]
[proxy.web]
listen = "127.0.0.1:0"
algorithm = "weighted_round_robin"
backends = [{ address = "%s", weight = 3 }, { address = "%s" }]
`, bs[0].addr, bs[1].addr))
	s := start(t, cfg)
	if got := counts(t, s, "web", 40); got["b1"] != 30 || got["b2"] != 10 {
		t.Errorf("weights 3:1 over 40 requests: %v, want b1 30, b2 10", got)
	}
	infos := s.Backends()
	if len(infos) != 2 || infos[0].ID != "proxy/web/"+bs[0].addr || infos[0].Weight != 3 {
		t.Errorf("backends = %+v, want IDs proxy/web/host:port", infos)
	}
}

// TestApplyHealth: a drain override or a down state drains the backend (no new requests),
// down also marks it unhealthy, unknown serves, and clearing brings it back.
func TestApplyHealth(t *testing.T) {
	bs, port := startBackends(t, 3)
	s := start(t, parse(t, poolConfig(port, 3, "")))
	tests := []struct {
		name                string
		state               map[string]health.State
		override            map[string]string
		wantServed          []string
		healthy1, draining1 bool
	}{
		{"unknown serves", nil, nil, []string{"b1", "b2", "b3"}, true, false},
		{"drain override", map[string]health.State{"p/127.0.1.1": health.Up}, map[string]string{"p/127.0.1.1": "drain"}, []string{"b2", "b3"}, true, true},
		{"health down", map[string]health.State{"p/127.0.1.1": health.Down, "p/127.0.1.2": health.Up}, nil, []string{"b2", "b3"}, false, true},
		{"back up", map[string]health.State{"p/127.0.1.1": health.Up}, nil, []string{"b1", "b2", "b3"}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.ApplyHealth(func(id string) (health.State, string) { return tc.state[id], tc.override[id] })
			got := counts(t, s, "web", 30)
			for _, b := range bs {
				want := 0
				for _, n := range tc.wantServed {
					if n == b.name {
						want = 30 / len(tc.wantServed)
					}
				}
				if got[b.name] != want {
					t.Errorf("served %v, want %d for %s", got, want, b.name)
				}
			}
			b1 := s.Backends()[0]
			if b1.Healthy != tc.healthy1 || b1.Draining != tc.draining1 || b1.Available != (tc.healthy1 && !tc.draining1) {
				t.Errorf("p/127.0.1.1 = %+v, want healthy %v draining %v", b1, tc.healthy1, tc.draining1)
			}
		})
	}
}

// TestReloadKeepsUpstreams: a reload keeps the Upstreams that stay (same pointer, in-flight
// count and drain state), adds new ones with the known health, and drops the removed.
func TestReloadKeepsUpstreams(t *testing.T) {
	bs, port := startBackends(t, 3)
	s := start(t, parse(t, poolConfig(port, 2, "")))
	s.ApplyHealth(func(id string) (health.State, string) {
		if id == "p/127.0.1.2" {
			return health.Up, "drain"
		}
		return health.Unknown, ""
	})
	keep := s.listeners[0].ups[fmt.Sprintf("p/127.0.1.1 127.0.1.1:%d 1", port)]
	if keep == nil {
		t.Fatalf("no upstream for p/127.0.1.1 in %v", s.listeners[0].ups)
	}
	keep.Acquire() // a request in flight across the reload
	defer keep.Release()

	// 127.0.1.2 leaves the pool, 127.0.1.3 joins; a route on path /b goes to 127.0.1.2 only.
	next := parse(t, strings.Replace(poolConfig(port, 3, fmt.Sprintf(`
[[proxy.web.routes]]
path = "/b"
backends = [{ address = "127.0.1.2:%d" }]
`, port)), `{ address = "127.0.1.2" }, `, "", 1))
	if err := s.Reload(next); err != nil {
		t.Fatal(err)
	}
	after := s.listeners[0].ups[fmt.Sprintf("p/127.0.1.1 127.0.1.1:%d 1", port)]
	if after != keep || after.InFlight() != 1 {
		t.Errorf("p/127.0.1.1 after reload: %p in flight %d, want the same upstream %p with 1 in flight", after, after.InFlight(), keep)
	}
	var ids []string
	for _, b := range s.Backends() {
		ids = append(ids, b.ID)
	}
	if want := fmt.Sprintf("p/127.0.1.1 p/127.0.1.3 proxy/web/127.0.1.2:%d", port); strings.Join(ids, " ") != want {
		t.Errorf("backends after reload = %v, want %s", ids, want)
	}
	got := counts(t, s, "web", 20)
	if got["b1"] != 10 || got["b3"] != 10 {
		t.Errorf("default route after reload: %v, want b1 and b3 10 each", got)
	}
	resp := getPath(t, s.Addr("web").String(), "/b")
	if resp != bs[1].name {
		t.Errorf("GET /b = %q, want the route's backend b2", resp)
	}
}

// TestTCPListener: a tcp listener balances connections over explicit backends.
func TestTCPListener(t *testing.T) {
	bs, _ := startBackends(t, 2)
	s := start(t, parse(t, fmt.Sprintf(`
[server]
dns = ["127.0.0.1:5353"]
[proxy.db]
mode = "tcp"
listen = "127.0.0.1:0"
backends = [{ address = "%s" }, { address = "%s" }]
`, bs[0].addr, bs[1].addr)))
	got := map[string]int{}
	for range 4 {
		got[getPath(t, s.Addr("db").String(), "/")]++
	}
	if got["b1"] != 2 || got["b2"] != 2 {
		t.Errorf("4 connections: %v, want 2 each", got)
	}
}

// TestListenConflict: a listener that cannot bind fails Listen, naming it, and the ones bound
// before it are released.
func TestListenConflict(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()
	cfg := parse(t, fmt.Sprintf(`
[server]
dns = ["127.0.0.1:5353"]
[proxy.a]
listen = "%s"
backends = [{ address = "127.0.0.1:1" }]
[proxy.b]
listen = "%s"
backends = [{ address = "127.0.0.1:1" }]
`, freeAddr, busy.Addr()))
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err == nil || !strings.Contains(err.Error(), "proxy b") {
		t.Fatalf("Listen = %v, want an error naming proxy b", err)
	}
	ln, err := net.Listen("tcp", freeAddr)
	if err != nil {
		t.Errorf("proxy a's address %s still bound after the failed Listen: %v", freeAddr, err)
	} else {
		ln.Close()
	}
}

// getPath sends one HTTP/1.0 GET over a fresh connection and returns the body.
func getPath(t *testing.T, addr, path string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path)
	r := bufio.NewReader(c)
	var body strings.Builder
	inBody := false
	for {
		line, err := r.ReadString('\n')
		if inBody {
			body.WriteString(line)
		} else if line == "\r\n" {
			inBody = true
		}
		if err != nil {
			break
		}
	}
	return body.String()
}
