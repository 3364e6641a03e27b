package test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/store"
)

// TestKill9KeepsCommittedState: a real `meridian serve` is killed with SIGKILL while a backend
// flaps and state changes stream into its store; the file then opens cleanly and holds every
// transition event the node had reported through its API before it died.
func TestKill9KeepsCommittedState(t *testing.T) {
	h := startHealthNode(t, "100ms")
	dir, bs, p, n := h.dir, h.bs, h.vars.ports, h.n

	// Flap one backend every 150 ms (fall 2 at 100 ms: each outage is seen) until the kill.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	flapped := make(chan struct{})
	flapper := bs[0]
	go func() {
		defer close(flapped)
		for up := false; ctx.Err() == nil; up = !up {
			if up {
				b, err := newBackend(flapper.addr)
				if err != nil {
					t.Errorf("restart backend: %v", err)
					return
				}
				flapper = b
			} else {
				flapper.kill()
			}
			select {
			case <-ctx.Done():
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()
	var seen []uint64
	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < 6 && time.Now().Before(deadline) {
		_, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/events?limit=1000", p.HTTP))
		var page struct {
			Events []struct{ Seq uint64 } `json:"events"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatalf("events: %v\n%s", err, body)
		}
		seen = seen[:0]
		for _, e := range page.Events {
			seen = append(seen, e.Seq)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(seen) < 6 {
		t.Fatalf("only %d transition events within 10s of flapping", len(seen))
	}
	n.signal(syscall.SIGKILL) // mid-stream: the backend keeps flapping
	err := <-n.done
	n.done <- err
	cancel()
	<-flapped
	flapper.kill()

	st, err := store.Open(filepath.Join(dir, "data", "state.db"), store.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer st.Close()
	evs, err := st.Events(store.EventQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	have := map[uint64]bool{}
	for _, e := range evs {
		have[e.Seq] = true
	}
	for _, seq := range seen {
		if !have[seq] {
			t.Errorf("event %d was reported by the node before the kill but is not in the file (%d events there)", seq, len(evs))
		}
	}
	t.Logf("%d events acknowledged before the kill, %d in the reopened file", len(seen), len(evs))
}
