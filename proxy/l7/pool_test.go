package l7

import (
	"strings"
	"testing"
	"time"
)

// TestStaleKeepAliveForPOST: a backend that closed an idle keep-alive connection does not
// cost a POST (which cannot be resent) its request; the pool notices the close first.
func TestStaleKeepAliveForPOST(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a := newBackend(t, "a", nil)
		s, url := startProxy(t, Options{Engine: engine, Routes: catchAll(t, "round_robin", a)})
		c := newClient()
		get(t, c, url+"/") // leaves one idle connection to a in the pool
		a.srv.CloseClientConnections()
		if engine == "loop" { // its pool is the loop's own; it checks an idle connection before a POST
			resp, body := do(t, c, mustReq(t, "POST", url+"/", strings.NewReader("data")))
			if resp.StatusCode != 200 || body != "a" {
				t.Errorf("POST after the backend closed its idle connection: %d %q, want 200 a", resp.StatusCode, body)
			}
			return
		}
		s.poolMu.Lock()
		pool := s.pools[a.u]
		s.poolMu.Unlock()
		for deadline := time.Now().Add(5 * time.Second); ; { // wait for the pool to hold it, closed
			pool.mu.Lock()
			var bc *backendConn
			if len(pool.idle) > 0 {
				bc = pool.idle[0]
			}
			pool.mu.Unlock()
			if bc != nil && !alive(bc.nc) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("closed connection still looks alive")
			}
			time.Sleep(time.Millisecond)
		}
		resp, body := do(t, c, mustReq(t, "POST", url+"/", strings.NewReader("data")))
		if resp.StatusCode != 200 || body != "a" {
			t.Errorf("POST after the backend closed its idle connection: %d %q, want 200 a", resp.StatusCode, body)
		}
	})
}
