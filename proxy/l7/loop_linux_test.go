//go:build linux

package l7

import (
	"runtime"
	"strings"
	"testing"
)

// TestLoopEngineChosen: "loop" runs event loops for cleartext and the go engine for TLS.
func TestLoopEngineChosen(t *testing.T) {
	a := newBackend(t, "a", nil)
	s, url := startProxy(t, Options{Engine: "loop", Loops: 2, Routes: catchAll(t, "round_robin", a)})
	if s.Engine() != "loop" || s.Loops() != 2 {
		t.Errorf("engine %q loops %d, want loop 2", s.Engine(), s.Loops())
	}
	if _, body := get(t, newClient(), url+"/"); body != "a" {
		t.Errorf("body %q", body)
	}
	files, _ := writeCert(t, t.TempDir(), "one", 1, "one.test")
	tl, err := New(Options{Engine: "loop", Listen: "127.0.0.1:0", TLS: &TLS{Certs: []CertFiles{files}}})
	if err != nil {
		t.Fatal(err)
	}
	if tl.Engine() != "go" || tl.Loops() != 0 {
		t.Errorf("TLS: engine %q loops %d, want go 0", tl.Engine(), tl.Loops())
	}
	if d, _ := New(Options{Listen: "127.0.0.1:0"}); d.Engine() != "loop" || d.Loops() != 1 {
		t.Errorf("default: engine %q loops %d, want loop 1", d.Engine(), d.Loops())
	}
	if g, _ := New(Options{Engine: "go", Listen: "127.0.0.1:0"}); g.Loops() != 0 {
		t.Errorf("go engine runs %d loops", g.Loops())
	}
	if _, err := New(Options{Engine: "epoll", Listen: "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "engine") {
		t.Errorf("unknown engine: %v", err)
	}
}

// TestLoopZeroAllocs: in the steady state the loop engine allocates nothing per request (the
// raw client and backends allocate nothing either, and metrics are on).
func TestLoopZeroAllocs(t *testing.T) {
	do := smallGETs(t, "loop")
	do(200)
	const n = 2000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	do(n)
	runtime.ReadMemStats(&after)
	per := float64(after.Mallocs-before.Mallocs) / n
	t.Logf("%.3f allocations per request", per)
	if per > 0.05 {
		t.Errorf("%.3f allocations per request, want 0", per)
	}
}
