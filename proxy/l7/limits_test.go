package l7

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-gslb/meridian/proxy/stats"
)

func TestHeaderTooLarge(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a := newBackend(t, "a", nil)
		m := stats.New(nil)
		_, url := startProxy(t, Options{Engine: engine, Metrics: m, MaxHeaderBytes: 1024, Routes: catchAll(t, "round_robin", a)})
		req := mustReq(t, "GET", url+"/", nil)
		req.Header.Set("X-Big", strings.Repeat("y", 2000))
		if resp, _ := do(t, newClient(), req); resp.StatusCode != 431 {
			t.Errorf("status %d, want 431", resp.StatusCode)
		}
		req.Header.Set("X-Big", strings.Repeat("y", 500))
		if resp, _ := do(t, newClient(), req); resp.StatusCode != 200 {
			t.Errorf("under the limit: status %d, want 200", resp.StatusCode)
		}
		if got := testutil.ToFloat64(m.Rejected.WithLabelValues("test", "header_too_large")); got != 1 {
			t.Errorf("rejected header_too_large = %v, want 1", got)
		}
	})
}

func TestClientTimeouts(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a := newBackend(t, "a", nil)
		_, url := startProxy(t, Options{Engine: engine, HeaderTimeout: 150 * time.Millisecond, IdleTimeout: 300 * time.Millisecond,
			Routes: catchAll(t, "round_robin", a)})
		addr := url[len("http://"):]

		t.Run("slow head", func(t *testing.T) {
			c := rawConn(t, addr)
			start := time.Now()
			fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n") // never finished
			b, _ := io.ReadAll(c)                          // ends when the proxy closes
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("closed after %v, want about 150ms", el)
			}
			if len(b) > 0 && !strings.HasPrefix(string(b), "HTTP/1.1 408") {
				t.Errorf("got %q, want nothing or a 408", b)
			}
		})
		t.Run("idle keep-alive", func(t *testing.T) {
			c := rawConn(t, addr)
			fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.ReadAll(resp.Body)
			start := time.Now()
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("idle read: %v, want EOF", err)
			}
			if el := time.Since(start); el < 200*time.Millisecond || el > 2*time.Second {
				t.Errorf("idle connection closed after %v, want about 300ms", el)
			}
		})
	})
}

func TestBackendTimeout(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		slow := newBackend(t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(3 * time.Second):
			}
		}))
		_, url := startProxy(t, Options{Engine: engine, BackendTimeout: 200 * time.Millisecond, Routes: catchAll(t, "round_robin", slow)})
		start := time.Now()
		if resp, _ := get(t, newClient(), url+"/"); resp.StatusCode != 504 {
			t.Errorf("status %d, want 504", resp.StatusCode)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("took %v, want about 200ms", el)
		}
	})
}

func TestRateLimit(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a := newBackend(t, "a", nil)
		m := stats.New(nil)
		_, url := startProxy(t, Options{Engine: engine, Metrics: m, RateLimit: RateLimit{Rate: 0.5, Burst: 2}, Routes: catchAll(t, "round_robin", a)})
		c := newClient()
		var codes []int
		var retryAfter string
		for range 4 {
			resp, _ := get(t, c, url+"/")
			codes = append(codes, resp.StatusCode)
			if resp.StatusCode == 429 {
				retryAfter = resp.Header.Get("Retry-After")
			}
		}
		if fmt.Sprint(codes) != "[200 200 429 429]" {
			t.Errorf("codes %v, want [200 200 429 429]", codes)
		}
		if n, err := strconv.Atoi(retryAfter); err != nil || n < 1 || n > 2 {
			t.Errorf("Retry-After %q, want 1 or 2 seconds", retryAfter)
		}
		if got := testutil.ToFloat64(m.Rejected.WithLabelValues("test", "rate_limit")); got != 2 {
			t.Errorf("rejected rate_limit = %v, want 2", got)
		}
	})
}

// blocking is a backend whose requests wait until release is closed; entered receives one
// value per request that reached it.
func blocking(t *testing.T, name string) (*backend, chan struct{}, chan struct{}) {
	release, entered := make(chan struct{}), make(chan struct{}, 16)
	b := newBackend(t, name, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		io.WriteString(w, name)
	}))
	return b, release, entered
}

func TestMaxConnsPerBackend(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a, releaseA, enteredA := blocking(t, "a")
		b, releaseB, enteredB := blocking(t, "b")
		m := stats.New(nil)
		_, url := startProxy(t, Options{Engine: engine, Metrics: m, MaxConnsPerBackend: 1, Routes: catchAll(t, "round_robin", a, b)})
		var wg sync.WaitGroup
		bodies := make([]string, 2)
		for i := range 2 {
			wg.Go(func() { _, bodies[i] = get(t, newClient(), url+"/") })
			select { // one at a time, so the second sees the first in flight
			case <-enteredA:
			case <-enteredB:
			case <-time.After(5 * time.Second):
				t.Fatal("request did not reach a backend")
			}
		}
		// Both backends are full: the third request gets 503.
		if resp, _ := get(t, newClient(), url+"/"); resp.StatusCode != 503 {
			t.Errorf("third request: status %d, want 503", resp.StatusCode)
		}
		close(releaseA)
		close(releaseB)
		wg.Wait()
		if bodies[0] == bodies[1] {
			t.Errorf("both in-flight requests on %s, want one each", bodies[0])
		}
		if got := testutil.ToFloat64(m.Rejected.WithLabelValues("test", "backend_max_conns")); got != 1 {
			t.Errorf("rejected backend_max_conns = %v, want 1", got)
		}
	})
}

func TestMaxConns(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a := newBackend(t, "a", nil)
		m := stats.New(nil)
		_, url := startProxy(t, Options{Engine: engine, Metrics: m, MaxConns: 1, Routes: catchAll(t, "round_robin", a)})
		addr := url[len("http://"):]
		first := rawConn(t, addr)
		fmt.Fprint(first, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, err := http.ReadResponse(bufio.NewReader(first), nil); err != nil {
			t.Fatal(err)
		}
		second := rawConn(t, addr)
		fmt.Fprint(second, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if b, err := io.ReadAll(second); len(b) != 0 {
			t.Errorf("over the limit: read %q, %v; want the connection closed", b, err)
		}
		if got := testutil.ToFloat64(m.Rejected.WithLabelValues("test", "max_conns")); got != 1 {
			t.Errorf("rejected max_conns = %v, want 1", got)
		}
	})
}
