package l7

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestDrainUnderLoad keeps 8 workers sending GETs while one of three backends is drained
// and then shut down: not one request may fail.
func TestDrainUnderLoad(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		bs := []*backend{newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "c", nil)}
		_, url := startProxy(t, Options{Engine: engine, Retries: 2, Routes: catchAll(t, "round_robin", bs...)})
		var (
			ok, failed atomic.Int64
			toC        [3]atomic.Int64 // requests answered by c: before draining, draining, closed
			phase      atomic.Int32
			firstErr   atomic.Value
		)
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				c := newClient()
				for i := 0; i < 20000 && ctx.Err() == nil; i++ {
					p := phase.Load()
					resp, err := c.Get(url + "/")
					if err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						continue
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || resp.StatusCode != 200 {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d %q %v", resp.StatusCode, body, err))
						continue
					}
					ok.Add(1)
					if string(body) == "c" {
						toC[p].Add(1)
					}
				}
			})
		}
		time.Sleep(400 * time.Millisecond) // load pacing, not readiness: the workers run throughout
		bs[2].u.SetDraining(true)
		phase.Store(1)
		time.Sleep(300 * time.Millisecond)
		bs[2].srv.Close()
		phase.Store(2)
		wg.Wait()
		t.Logf("ok %d, failed %d, to c: before %d, draining %d, after close %d",
			ok.Load(), failed.Load(), toC[0].Load(), toC[1].Load(), toC[2].Load())
		if n := failed.Load(); n != 0 {
			t.Errorf("%d requests failed (first: %v), want 0", n, firstErr.Load())
		}
		if toC[0].Load() == 0 {
			t.Error("c served nothing before draining: the test proves nothing")
		}
		if n := toC[2].Load(); n != 0 {
			t.Errorf("c answered %d requests after it was closed", n)
		}
		if ok.Load() < 300 {
			t.Errorf("only %d requests: too little load", ok.Load())
		}
	})
}

// TestDrainTimeoutEndsLongRequests: work on a backend draining for longer than
// DrainTimeout is cut.
func TestDrainTimeoutEndsLongRequests(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		started := make(chan struct{}, 1)
		a := newBackend(t, "a", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			for i := 0; i < 200; i++ { // 10 s at most
				if _, err := io.WriteString(w, "x"); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}))
		_, url := startProxy(t, Options{Engine: engine, DrainTimeout: 300 * time.Millisecond, Routes: catchAll(t, "round_robin", a)})
		resp, err := newClient().Get(url + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		<-started
		a.u.SetDraining(true)
		start := time.Now()
		io.Copy(io.Discard, resp.Body)
		if el := time.Since(start); el < 250*time.Millisecond || el > 3*time.Second {
			t.Errorf("long request ended %v after draining began, want about 300-550ms", el)
		}
	})
}
