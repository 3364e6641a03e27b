package peer

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/health"
)

// memSink keeps what a node recorded, by target.
type memSink struct {
	mu  sync.Mutex
	got map[string]health.Observation
}

func (m *memSink) Record(_ context.Context, o health.Observation) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got[o.Target] = o
	return nil
}

func (m *memSink) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.got)
}

// TestPublisher: observations reach two nodes, one of which fails for a while; once it
// recovers it has every observation too.
func TestPublisher(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	healthy := &memSink{got: map[string]health.Observation{}}
	flaky := &memSink{got: map[string]health.Observation{}}
	var failing atomic.Bool
	failing.Store(true)
	var refused atomic.Int64
	n1 := httptest.NewServer(Handler(healthy, secret, log, nil))
	defer n1.Close()
	h2 := Handler(flaky, secret, log, nil)
	n2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			refused.Add(1)
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		h2.ServeHTTP(w, r)
	}))
	defer n2.Close()

	p := NewPublisher("p1", []string{n1.URL, n2.URL + "/"}, secret, nil, log)
	p.FlushInterval = 20 * time.Millisecond
	p.BatchSize = 10
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	const total = 250
	record := func(from, to int) {
		for i := from; i < to; i++ {
			start := time.Now()
			if err := p.Record(ctx, health.Observation{Target: fmt.Sprintf("a/10.0.0.%d", i), Prober: "ignored", Up: true, At: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 50*time.Millisecond {
				t.Errorf("Record took %v", d)
			}
		}
	}
	record(0, total/2)
	waitFor(t, "the healthy node has the first half", func() bool { return healthy.count() == total/2 })
	waitFor(t, "the failing node was tried", func() bool { return refused.Load() >= 2 })
	if got := flaky.count(); got != 0 {
		t.Fatalf("failing node recorded %d", got)
	}
	failing.Store(false)
	record(total/2, total)
	waitFor(t, "both nodes have everything", func() bool { return healthy.count() == total && flaky.count() == total })
	for _, s := range []*memSink{healthy, flaky} {
		for id, o := range s.got {
			if o.Prober != "p1" || !o.Up {
				t.Errorf("%s: %+v, want prober p1 up", id, o)
			}
		}
	}
	if d := p.Dropped(n2.URL); d != 0 {
		t.Errorf("dropped %d, want 0", d)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestPublisherQueueBound: a node that never answers keeps only the newest QueueLen observations.
func TestPublisherQueueBound(t *testing.T) {
	n := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	defer n.Close()
	p := NewPublisher("p1", []string{n.URL}, secret, nil, nil)
	p.QueueLen = 5
	for i := range 8 {
		p.Record(context.Background(), health.Observation{Target: fmt.Sprint("t", i)})
	}
	p.flush(context.Background(), p.nodes[0])
	if got := p.Dropped(n.URL); got != 3 {
		t.Errorf("dropped %d, want 3", got)
	}
	if q := p.nodes[0].q; len(q) != 5 || q[0].Target != "t3" || q[4].Target != "t7" {
		t.Errorf("queue %v, want t3..t7", q)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
