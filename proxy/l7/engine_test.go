package l7

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

// TestPipelined: requests written back to back before any answer are answered in order.
func TestPipelined(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a := newBackend(t, "a", nil)
		_, url := startProxy(t, Options{Engine: engine, Routes: catchAll(t, "round_robin", a)})
		c := rawConn(t, url[len("http://"):])
		io.WriteString(c, "GET /one HTTP/1.1\r\nHost: x\r\n\r\n\r\nPOST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /three HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		for _, want := range []string{"/one", "/two", "/three"} {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%s: %v", want, err)
			}
			body, _ := io.ReadAll(resp.Body)
			if got := resp.Header.Get("X-Got-Path"); got != want || string(body) != "a" {
				t.Errorf("answer for %s: path %q body %q", want, got, body)
			}
		}
	})
}

// TestIdleBackendConnClosedWhenUnavailable: a keep-alive connection to a backend that went
// out of selection is closed, not kept for reuse.
func TestIdleBackendConnClosedWhenUnavailable(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		var open atomic.Int64
		srv := httptest.NewUnstartedServer(echoHandler("a"))
		srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				open.Add(1)
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		}
		srv.Start()
		t.Cleanup(srv.Close)
		a := &backend{name: "a", srv: srv, u: balance.NewUpstream(srv.Listener.Addr().String(), 1)}
		_, url := startProxy(t, Options{Engine: engine, Routes: catchAll(t, "round_robin", a)})
		if resp, _ := get(t, newClient(), url+"/"); resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if open.Load() != 1 {
			t.Fatalf("%d backend connections open, want 1 kept alive", open.Load())
		}
		a.u.SetDraining(true)
		waitFor(t, "idle backend connection closed", func() bool { return open.Load() == 0 })
	})
}

// TestLargeHead: a head bigger than a connection's first buffer (16 KiB) but within
// MaxHeaderBytes is read whole.
func TestLargeHead(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a := newBackend(t, "a", nil)
		_, url := startProxy(t, Options{Engine: engine, Routes: catchAll(t, "round_robin", a)})
		req := mustReq(t, "GET", url+"/big", nil)
		req.Header.Set("X-Big", strings.Repeat("v", 40<<10))
		resp, body := do(t, newClient(), req)
		if resp.StatusCode != 200 || body != "a" || resp.Header.Get("X-Got-Path") != "/big" {
			t.Errorf("got %d %q", resp.StatusCode, body)
		}
	})
}
