package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns"
	"github.com/meridian-gslb/meridian/store"
)

// sse is one Server-Sent Event as read from the stream.
type sse struct{ event, data string }

// readSSE sends the events of r to the channel until r ends.
func readSSE(r io.Reader) <-chan sse {
	out := make(chan sse, 64)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		var e sse
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if e.event != "" {
					out <- e
				}
				e = sse{}
			case strings.HasPrefix(line, "event: "):
				e.event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				e.data = line[len("data: "):]
			}
		}
	}()
	return out
}

// newDashboardServer serves testdata/services.toml over the API tests' store, as cmd wires it.
func newDashboardServer(t *testing.T) (*httptest.Server, *store.Store) {
	t.Helper()
	h, st := servicesHandler(t)
	regions := []RegionInfo{{Name: "eu", Lat: 50.1, Lon: 8.7, HasCoords: true}, {Name: "us"}}
	s := New(prometheus.NewRegistry(), func() error { return nil }, &API{Health: st, Services: h, Node: "node <1>",
		Regions: func() []RegionInfo { return regions }}, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(s.srv.Handler)
	t.Cleanup(srv.Close)
	return srv, st
}

func TestStream(t *testing.T) {
	srv, st := newDashboardServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q, want text/event-stream", ct)
	}
	evs := readSSE(resp.Body)
	next := func(why string, within time.Duration) sse {
		t.Helper()
		select {
		case e, ok := <-evs:
			if !ok {
				t.Fatalf("%s: stream ended", why)
			}
			return e
		case <-time.After(within):
			t.Fatalf("%s: no event within %v", why, within)
		}
		return sse{}
	}
	endpointState := func(data, id string) string {
		var v struct {
			Services []dns.ServiceInfo `json:"services"`
		}
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			t.Fatalf("services data: %v\n%s", err, data)
		}
		for _, s := range v.Services {
			for _, p := range s.Pools {
				for _, e := range p.Endpoints {
					if e.ID == id {
						return e.State
					}
				}
			}
		}
		return ""
	}

	// At connect: the services, then the backlog (newAPI's reports made 127.0.0.1 up, ::1 down).
	first := next("at connect", time.Second)
	if first.event != "services" || endpointState(first.data, "a/127.0.0.1") != "up" {
		t.Fatalf("first event %q with a/127.0.0.1 %q, want services with it up", first.event, endpointState(first.data, "a/127.0.0.1"))
	}
	var lastSeq uint64
	for drained := false; !drained; {
		select {
		case e := <-evs:
			if e.event == "stats" { // the answer rates follow the backlog (stats_test.go)
				continue
			}
			var ev eventJSON
			if e.event != "event" || json.Unmarshal([]byte(e.data), &ev) != nil {
				t.Fatalf("backlog: got %q %s, want events", e.event, e.data)
			}
			lastSeq = ev.Seq
		case <-time.After(600 * time.Millisecond): // quiet: the backlog is drained
			drained = true
		}
	}

	start := time.Now()
	if err := st.SetOverride("a/127.0.0.1", store.Override{Kind: store.ForceDown, Who: "test", Why: "stream"}); err != nil {
		t.Fatal(err)
	}
	var sawEvent, sawDown bool
	for !sawEvent || !sawDown {
		e := next("after the override", time.Second)
		switch e.event {
		case "event":
			var ev eventJSON
			if err := json.Unmarshal([]byte(e.data), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Target != "a/127.0.0.1" || ev.From != "up" || ev.To != "down" || ev.Seq <= lastSeq {
				t.Errorf("event %+v, want a/127.0.0.1 up → down after seq %d", ev, lastSeq)
			}
			sawEvent = true
		case "services":
			sawDown = endpointState(e.data, "a/127.0.0.1") == "down"
		}
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("change reached the stream after %v, want within 1s", took)
	}
}

func TestStreamEndsAtShutdown(t *testing.T) {
	h, st := servicesHandler(t)
	s := New(prometheus.NewRegistry(), func() error { return nil }, &API{Health: st, Services: h}, slog.New(slog.DiscardHandler))
	if err := s.Listen(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	resp, err := http.Get("http://" + s.Addr().String() + "/api/v1/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-readSSE(resp.Body) // connected
	start := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("shutdown took %v with a stream open, want it to end the stream at once", took)
	}
}

func TestDashboardPage(t *testing.T) {
	srv, _ := newDashboardServer(t)
	tests := []struct {
		name, path, ctype string
		contains          []string
	}{
		{"page escapes the node name", "/", "text/html; charset=utf-8", []string{"node &lt;1&gt;", `src="/ui/app.js"`, `id="svc-body"`}},
		{"script", "/ui/app.js", "text/javascript; charset=utf-8", []string{"EventSource", "textContent"}},
		{"style", "/ui/app.css", "text/css; charset=utf-8", []string{"--down"}},
		{"regions", "/api/v1/regions", "application/json", []string{`"name": "eu"`, `"lat": 50.1`, `"has_coords": false`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tc.ctype {
				t.Fatalf("GET %s = %d %q, want 200 %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.ctype)
			}
			for _, want := range tc.contains {
				if !strings.Contains(string(b), want) {
					t.Errorf("GET %s lacks %q", tc.path, want)
				}
			}
		})
	}
}

// TestStreamOutlivesReadTimeout: the server's read timeout bounds reading requests, not the
// event stream: a change after it has passed still reaches the client.
func TestStreamOutlivesReadTimeout(t *testing.T) {
	h, st := servicesHandler(t)
	s := New(prometheus.NewRegistry(), func() error { return nil }, &API{Health: st, Services: h}, slog.New(slog.DiscardHandler))
	s.SetLimits(Limits{ReadTimeout: 500 * time.Millisecond})
	if err := s.Listen(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	resp, err := http.Get("http://" + s.Addr().String() + "/api/v1/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := readSSE(resp.Body)
	<-events                            // connected
	time.Sleep(1500 * time.Millisecond) // three read timeouts
	targets := st.View().Targets()
	if len(targets) == 0 {
		t.Fatal("no targets in the services fixture")
	}
	if err := st.SetOverride(targets[0], store.Override{Kind: store.ForceDown, Who: "test"}); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("the stream ended after the read timeout")
			}
			if e.event == "services" {
				return
			}
		case <-timeout:
			t.Fatal("no services event for a change made after the read timeout")
		}
	}
}

// TestStreamFollowsReloads: a reload that changes a service (no health change) reaches the
// stream when the node says so (Server.Reloaded), with no poll in between.
func TestStreamFollowsReloads(t *testing.T) {
	h, st := servicesHandler(t)
	s := New(prometheus.NewRegistry(), func() error { return nil }, &API{Health: st, Services: h}, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(s.srv.Handler)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	evs := readSSE(resp.Body)
	ttl := func(e sse) uint32 {
		var v struct {
			Services []dns.ServiceInfo `json:"services"`
		}
		if err := json.Unmarshal([]byte(e.data), &v); err != nil {
			t.Fatal(err)
		}
		for _, s := range v.Services {
			if s.Name == "www.example.test." {
				return s.TTL
			}
		}
		return 0
	}
	if e := <-evs; e.event != "services" || ttl(e) != 30 {
		t.Fatalf("at connect: %q ttl %d, want services with www at 30", e.event, ttl(e))
	}
	b, err := os.ReadFile("testdata/services.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("services.toml", bytes.Replace(b, []byte(`ttl = "30s"`), []byte(`ttl = "45s"`), 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	s.Reloaded()
	deadline := time.After(2 * time.Second)
	for {
		select {
		case e := <-evs:
			if e.event == "services" && ttl(e) == 45 {
				return
			}
		case <-deadline:
			t.Fatal("the reloaded services never reached the stream")
		}
	}
}
