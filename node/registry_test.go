package node

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/web"
)

// dynTOML is a node alone with a pool that endpoints join at run time.
const dynTOML = `
[server]
node = "alone"
dns = ["127.0.0.1:0"]
http = ""
data_dir = "data"

[regions.r]

[pools.dyn]
region = "r"
endpoints = []
min_healthy = 2
drain_timeout = "300ms"

[pools.fixed]
region = "r"
endpoints = [{ address = "127.0.7.1" }]

[zones."example.test"]
ns = ["ns1"]

[[zones."example.test".records]]
name = "ns1"
type = "A"
data = "192.0.2.1"

[zones."example.test".services.dyn]
policy = "weighted"
pools = ["dyn", "fixed"]
answers = 8
`

// startAlone runs a node from dynTOML in dir until the test ends (or stop is called).
func startAlone(t *testing.T, dir string) (n *Node, stop func()) {
	t.Helper()
	cfg, err := config.Load(filepath.Join(dir, "node.toml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n, err = New(ctx, cfg, Options{Role: Serve})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return n, stop
}

// eventually waits up to 3s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Since(start) > 3*time.Second {
			t.Fatalf("%s: not within 3s", what)
		}
	}
}

// TestRegistryAlone: without [cluster] a node takes registrations itself: they are answered,
// kept across a restart (bbolt), lapse without renewal, and leave by a drain first; a
// deregistration that would break min_healthy is refused unless forced.
func TestRegistryAlone(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "node.toml"), dynTOML)
	t.Chdir(dir)
	n, stop := startAlone(t, dir)
	ctx := context.Background()
	answers := func(n *Node) []string { return lookupA(t, n.DNSAddrs()[0], "dyn.example.test.") }
	a2, a3 := netip.MustParseAddr("127.0.7.2"), netip.MustParseAddr("127.0.7.3")

	if err := n.Register(ctx, "nope", a2, 1, 0); !errors.Is(err, web.ErrNoPool) {
		t.Errorf("register in an unknown pool: %v", err)
	}
	if err := n.Register(ctx, "fixed", netip.MustParseAddr("127.0.7.1"), 1, 0); !errors.Is(err, web.ErrNotDynamic) {
		t.Errorf("register a configured address: %v", err)
	}
	if err := n.Register(ctx, "dyn", a2, 1, 0); err != nil {
		t.Fatal(err)
	}
	if err := n.Register(ctx, "dyn", a3, 1, 700*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both registrations answered", func() bool { return len(answers(n)) == 2 })
	if !n.Dynamic("dyn/127.0.7.2") || n.Dynamic("fixed/127.0.7.1") {
		t.Error("Dynamic: want the registered endpoint only")
	}
	// Renewed twice within its TTL, it stays; then it lapses.
	for range 2 {
		time.Sleep(400 * time.Millisecond)
		if err := n.Register(ctx, "dyn", a3, 1, 700*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if got := answers(n); !slices.Contains(got, "127.0.7.3") {
		t.Fatalf("renewed registration gone: %v", got)
	}
	eventually(t, "the lapsed registration leaves", func() bool { return !slices.Contains(answers(n), "127.0.7.3") })

	// A restart keeps the registration without a TTL.
	stop()
	n, _ = startAlone(t, dir)
	eventually(t, "the registration survives a restart", func() bool { return slices.Contains(answers(n), "127.0.7.2") })
	if err := n.Register(ctx, "dyn", a3, 1, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "registered again", func() bool { return slices.Contains(answers(n), "127.0.7.3") })

	// min_healthy 2: removing one of the two serving endpoints is refused, unless forced.
	if _, err := n.Deregister(ctx, "dyn", a2, false); !errors.Is(err, web.ErrBelowMinHealthy) || !strings.Contains(err.Error(), "min_healthy 2") {
		t.Fatalf("deregister below min_healthy: %v", err)
	}
	if _, err := n.Deregister(ctx, "fixed", netip.MustParseAddr("127.0.7.1"), true); !errors.Is(err, web.ErrNotDynamic) {
		t.Errorf("deregister a configured endpoint: %v", err)
	}
	until, err := n.Deregister(ctx, "dyn", a2, true)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(until); d <= 0 || d > 300*time.Millisecond {
		t.Errorf("draining until %v from now, want the pool's drain_timeout (300ms)", d)
	}
	// Drained at once (no longer answered), removed after the drain.
	eventually(t, "drained at once", func() bool { return !slices.Contains(answers(n), "127.0.7.2") })
	if eps, _ := n.Endpoints("dyn"); len(eps) != 2 {
		t.Errorf("during the drain the pool lists %v, want the endpoint still there", eps)
	}
	eventually(t, "removed after drain_timeout", func() bool {
		eps, _ := n.Endpoints("dyn")
		return len(eps) == 1
	})
	if ov := n.Store().View().Target("dyn/127.0.7.2").Override; ov.Kind != 0 {
		t.Errorf("the drain is left after the removal: %+v", ov)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "state.db")); err != nil {
		t.Fatal(err)
	}
}
