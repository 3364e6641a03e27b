package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/store"
)

// Endpoints of the test config: pool a has a1, a2 (min_healthy 1), pool b has b1; service
// www.example.test. fails over from a to b.
const (
	a1 = "a/127.0.1.1"
	a2 = "a/127.0.1.2"
	b1 = "b/127.0.2.1"
)

// testTOML is the config with the [[notify]] tables notify adds.
func testTOML(notify string) string {
	return `
[server]
node = "n1"
dns = ["127.0.0.1:0"]
http = ""

[monitors.web]
kind = "tcp"
port = 80
interval = "1h"

[regions.r]

[pools.a]
region = "r"
monitor = "web"
endpoints = [{ address = "127.0.1.1" }, { address = "127.0.1.2" }]

[pools.b]
region = "r"
monitor = "web"
endpoints = [{ address = "127.0.2.1" }]

[zones."example.test"]
ns = ["ns1"]
[[zones."example.test".records]]
name = "ns1"
type = "A"
data = "192.0.2.1"

[zones."example.test".services.www]
policy = "failover"
pools = ["a", "b"]
` + notify
}

// parse parses toml as dir/meridian.toml, so that secret files resolve in dir.
func parse(t *testing.T, dir, toml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(filepath.Join(dir, "meridian.toml"), []byte(toml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// fixture is a real store with every test endpoint ruled, and a notifier over it.
type fixture struct {
	t   *testing.T
	dir string
	st  *store.Store
	n   *Notifier
	reg *prometheus.Registry
	at  time.Time // the next report's time
}

func newFixture(t *testing.T, notify string, prepare func(dir string)) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), reg: prometheus.NewRegistry(), at: time.Now().Add(-time.Hour)}
	if prepare != nil {
		prepare(f.dir)
	}
	st, err := store.Open(filepath.Join(f.dir, "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	rules := map[string]store.Rule{}
	for _, id := range []string{a1, a2, b1} {
		rules[id] = store.Rule{Interval: time.Hour}
	}
	st.SetRules(rules)
	for _, id := range []string{a1, a2, b1} {
		f.record(id, true) // unknown → up: no notification
	}
	n, err := New(parse(t, f.dir, testTOML(notify)), st, Options{Registerer: f.reg})
	if err != nil {
		t.Fatal(err)
	}
	f.n = n
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return f
}

// record commits one report on id by prober p (one prober: each report decides).
func (f *fixture) record(id string, up bool) {
	f.t.Helper()
	recordOn(f.t, f.st, id, up, &f.at)
}

// recordOn commits a report on id to s, a millisecond after *at.
func recordOn(t *testing.T, s *store.Store, id string, up bool, at *time.Time) {
	t.Helper()
	*at = at.Add(time.Millisecond)
	if err := s.Record(context.Background(), health.Observation{Target: id, Prober: "p", Up: up, At: *at}); err != nil {
		t.Fatal(err)
	}
}

// waitMetric waits until get returns at least want, and returns it; it fails after 5s.
func waitMetric(t *testing.T, get func() float64, want float64) float64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if v := get(); v >= want {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("metric is %v after 5s, want %v", get(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// request is one request a receiver got.
type request struct {
	header http.Header
	body   []byte
	at     time.Time
}

func (r request) note(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// receiver is a webhook on loopback answering each request with the next status of script
// (then 200), after hang (a channel that the test closes; nil: none).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []request
	script []int
	got    chan struct{} // signalled per request
}

func newReceiver(t *testing.T, hang <-chan struct{}, script ...int) *receiver {
	t.Helper()
	r := &receiver{script: script, got: make(chan struct{}, 1000)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, request{header: req.Header.Clone(), body: body, at: time.Now()})
		status := http.StatusOK
		if len(r.script) > 0 {
			status, r.script = r.script[0], r.script[1:]
		}
		r.mu.Unlock()
		r.got <- struct{}{}
		if hang != nil {
			select {
			case <-hang:
			case <-req.Context().Done():
			}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

// wait returns the requests once there are n, failing after 5s.
func (r *receiver) wait(t *testing.T, n int) []request {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		r.mu.Lock()
		if len(r.reqs) >= n {
			out := append([]request(nil), r.reqs...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		select {
		case <-r.got:
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("receiver got %d requests within 5s, want %d", len(r.reqs), n)
		}
	}
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// writeSecret writes secret into dir/name.
func writeSecret(t *testing.T, dir, name, secret string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// hookTOML is a [[notify]] table for url with extra keys.
func hookTOML(name, url, extra string) string {
	return fmt.Sprintf("\n[[notify]]\nname = %q\nurl = %q\n%s\n", name, url, extra)
}
