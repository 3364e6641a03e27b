package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/health"
)

// nodeTOML is a node's config: a zone with a static name and a service over pool web, whose
// endpoints are probed over TCP at backendPort, and a proxy listener over that pool.
func nodeTOML(static string, endpoints []string, backendPort int, extra string) string {
	var eps []string
	for _, e := range endpoints {
		eps = append(eps, fmt.Sprintf("{ address = %q }", e))
	}
	return fmt.Sprintf(`
[server]
node = "test-node"
dns = ["127.0.0.1:0"]
http = "127.0.0.1:0"
data_dir = "data"

[monitors.tcp]
kind = "tcp"
port = %d
interval = "1s"

[regions.r]

[pools.web]
region = "r"
monitor = "tcp"
endpoints = [%s]

[proxy.web]
listen = "127.0.0.1:0"
pool = "web"
port = %d

[zones."example.test"]
ns = ["ns1"]

[[zones."example.test".records]]
name = "ns1"
type = "A"
data = "192.0.2.1"

[[zones."example.test".records]]
name = "static"
type = "A"
data = %q

[zones."example.test".services.www]
policy = "failover"
pools = ["web"]
%s`, backendPort, strings.Join(eps, ", "), backendPort, static, extra)
}

// backend serves HTTP on 127.0.0.1 at a free port until the test ends.
func backend(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func lookupA(t *testing.T, server netip.AddrPort, name string) []string {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name, mdns.TypeA)
	r, err := mdns.Exchange(m, server.String())
	if err != nil {
		t.Fatalf("query %s: %v", name, err)
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*mdns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return out
}

// parts is what a reload may change, read from the running node.
type parts struct {
	static   []string // the static name's answer
	backends []string // the proxy's backend IDs
	remote   []string // the remote probers' plan
	ruled    bool     // the store has a rule for web/127.0.0.3
	cfg      *config.Config
}

func read(t *testing.T, n *Node) parts {
	t.Helper()
	p := parts{static: lookupA(t, n.DNSAddrs()[0], "static.example.test."), cfg: n.Config()}
	for _, b := range n.Proxies() {
		p.backends = append(p.backends, b.ID)
	}
	for _, tg := range *n.remote.Load() {
		p.remote = append(p.remote, tg.ID)
	}
	// SetRules has returned by the time Reload does: the View has the rules.
	p.ruled = n.Store().View().Ruled("web/127.0.0.3")
	return p
}

// TestReloadIsOneTransaction builds a node in process from a config and reloads it: a good
// config reaches DNS, the proxies, the store's rules and the remote plan; a config that does
// not parse, one the DNS handler refuses after the proxies accepted it, and one that drops
// every zone are each rejected with every part unchanged.
func TestReloadIsOneTransaction(t *testing.T) {
	dir := t.TempDir()
	port := backend(t)
	path := filepath.Join(dir, "node.toml")
	write(t, path, nodeTOML("192.0.2.10", []string{"127.0.0.1"}, port, ""))
	write(t, filepath.Join(dir, "bad-latency.csv"), "client,region,rtt_ms\nnot-a-network,r,fast\n")
	t.Chdir(dir) // data_dir = "data"
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var problems strings.Builder
	ctx, cancel := context.WithCancel(context.Background())
	n, err := New(ctx, cfg, Options{Role: Serve, Problems: &problems})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	before := read(t, n)
	if !slices.Equal(before.static, []string{"192.0.2.10"}) || !slices.Equal(before.backends, []string{"web/127.0.0.1"}) ||
		!slices.Equal(before.remote, []string{"web/127.0.0.1"}) || before.ruled {
		t.Fatalf("at start: %+v", before)
	}

	rejected := []struct {
		name, toml, want string
		zoneLoss         bool
	}{
		{"does not parse", nodeTOML("192.0.2.20", []string{"127.0.0.1", "127.0.0.3"}, port, "[oops\n"), "node.toml:", false},
		{"the DNS handler refuses it after the proxies took it",
			nodeTOML("192.0.2.20", []string{"127.0.0.1", "127.0.0.3"}, port, "\n[geo]\nlatency = \"bad-latency.csv\"\n"), "latency table", false},
		{"drops every zone", strings.Split(nodeTOML("192.0.2.20", []string{"127.0.0.1", "127.0.0.3"}, port, ""), "[zones.")[0], "drops 1 of the 1 zones", true},
	}
	for _, tc := range rejected {
		t.Run(tc.name, func(t *testing.T) {
			write(t, path, tc.toml)
			problems.Reset()
			err := n.Reload(false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Reload = %v, want an error containing %q", err, tc.want)
			}
			var zl *config.ZoneLossError
			if tc.zoneLoss != errors.As(err, &zl) {
				t.Errorf("ZoneLossError: %v, want %v", errors.As(err, &zl), tc.zoneLoss)
			}
			if !strings.Contains(problems.String(), tc.want) {
				t.Errorf("problems written = %q, want %q", problems.String(), tc.want)
			}
			after := read(t, n)
			if !slices.Equal(after.static, before.static) || !slices.Equal(after.backends, before.backends) ||
				!slices.Equal(after.remote, before.remote) || after.ruled || after.cfg != before.cfg {
				t.Errorf("a rejected reload changed the node: %+v, was %+v", after, before)
			}
		})
	}

	write(t, path, nodeTOML("192.0.2.20", []string{"127.0.0.1", "127.0.0.3"}, port, ""))
	if err := n.Reload(false); err != nil {
		t.Fatalf("good config: %v", err)
	}
	after := read(t, n)
	if !slices.Equal(after.static, []string{"192.0.2.20"}) || !slices.Equal(after.backends, []string{"web/127.0.0.1", "web/127.0.0.3"}) ||
		!slices.Equal(after.remote, []string{"web/127.0.0.1", "web/127.0.0.3"}) || !after.ruled || after.cfg == before.cfg {
		t.Errorf("after a good reload: %+v", after)
	}
}

// TestProxiesFollowTheStore: a state change committed to the store reaches the proxies' backend
// set: the feed waits on View.Changed (the delay itself is measured by test/bench/propagation).
func TestProxiesFollowTheStore(t *testing.T) {
	dir := t.TempDir()
	port := backend(t)
	path := filepath.Join(dir, "node.toml")
	write(t, path, nodeTOML("192.0.2.10", []string{"127.0.0.1"}, port, ""))
	t.Chdir(dir)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err := New(ctx, cfg, Options{Role: Serve})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	available := func() bool { return n.Proxies()[0].Available }
	for i := range 20 {
		obs := health.Observation{Target: "web/127.0.0.1", Prober: "test", Up: i%2 == 1}
		if err := n.Store().Record(ctx, obs); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for available() != obs.Up {
			if time.Since(start) > 2*time.Second {
				t.Fatalf("transition %d: the proxy still has available=%v 2s after the commit", i, !obs.Up)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
}
