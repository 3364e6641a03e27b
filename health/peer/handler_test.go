package peer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/store"
)

var secret = []byte("s3cret")

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func batchBody(t *testing.T, b Batch) []byte {
	t.Helper()
	body, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func TestHandler(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	at := now.Add(-time.Second).UTC()
	good := batchBody(t, Batch{Prober: "p1", Observations: []ObservationJSON{
		{Target: "a/127.0.0.1", Up: true, RTTns: int64(3 * time.Millisecond), At: at},
		{Target: "a/127.0.0.2", Prober: "p1", Err: "status 503, want 200-399", At: at},
	}})
	mismatch := batchBody(t, Batch{Prober: "p1", Observations: []ObservationJSON{{Target: "a/127.0.0.1", Prober: "p2", At: at}}})
	signed := func(ts time.Time, body []byte, key []byte) http.Header {
		h := http.Header{}
		sign(h, key, ts, body)
		return h
	}
	tests := []struct {
		name     string
		header   http.Header
		body     []byte
		code     int
		recorded int // reports in the store afterwards
	}{
		{"good signature is recorded", signed(now, good, secret), good, http.StatusOK, 2},
		{"clock within the window", signed(now.Add(-59*time.Second), good, secret), good, http.StatusOK, 2},
		{"bad signature", signed(now, good, []byte("guess")), good, http.StatusUnauthorized, 0},
		{"body changed after signing", signed(now, good[:len(good)-2], secret), good, http.StatusUnauthorized, 0},
		{"stale timestamp", signed(now.Add(-61*time.Second), good, secret), good, http.StatusUnauthorized, 0},
		{"future timestamp", signed(now.Add(61*time.Second), good, secret), good, http.StatusUnauthorized, 0},
		{"missing headers", http.Header{}, good, http.StatusUnauthorized, 0},
		{"missing signature", http.Header{HeaderTimestamp: {strconv.FormatInt(now.Unix(), 10)}}, good, http.StatusUnauthorized, 0},
		{"prober mismatch", signed(now, mismatch, secret), mismatch, http.StatusBadRequest, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			var logs bytes.Buffer
			h := Handler(st, secret, slog.New(slog.NewTextHandler(&logs, nil)), func() time.Time { return now })
			req := httptest.NewRequest(http.MethodPost, ObservationsPath, bytes.NewReader(tc.body))
			req.Header = tc.header
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.code {
				t.Fatalf("code = %d, want %d (%s)", rec.Code, tc.code, rec.Body)
			}
			if tc.code == http.StatusUnauthorized && (!strings.Contains(logs.String(), "level=WARN") ||
				!strings.Contains(logs.String(), "prober=p1") || !strings.Contains(logs.String(), "reason=")) {
				t.Errorf("401 without a Warn line naming prober and reason; log:\n%s", logs.String())
			}
			n := 0
			v := st.View()
			for _, id := range v.Targets() {
				for _, r := range v.Target(id).Reports {
					n++
					if r.Prober != "p1" || !r.At.Equal(at) {
						t.Errorf("report %+v: want prober p1 at %v", r, at)
					}
				}
			}
			if n != tc.recorded {
				t.Errorf("reports in the store = %d, want %d", n, tc.recorded)
			}
			if tc.code == http.StatusOK && strings.TrimSpace(rec.Body.String()) != `{"recorded":2}` {
				t.Errorf("body = %s, want {\"recorded\":2}", rec.Body)
			}
		})
	}
}

func TestPlanRoundTrip(t *testing.T) {
	m := &health.Monitor{Name: "web", Kind: "http", Interval: 200 * time.Millisecond, Timeout: 100 * time.Millisecond,
		Rise: 1, Fall: 2, Path: "/health", Headers: map[string]string{"X-A": "b"}, BodyRegexp: regexp.MustCompile("o+k")}
	targets := []health.Target{
		{ID: "a/127.0.1.1", Addr: netip.MustParseAddrPort("127.0.0.1:8001"), Monitor: m},
		{ID: "a/127.0.1.2", Addr: netip.MustParseAddrPort("127.0.0.1:8002"), Monitor: m},
	}
	plan := func() []health.Target { return targets }
	srv := httptest.NewServer(PlanHandler(plan, secret, slog.New(slog.DiscardHandler), nil))
	defer srv.Close()

	got, err := FetchPlan(context.Background(), srv.URL, "p1", secret)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != targets[0].ID || got[1].Addr != targets[1].Addr || got[0].Monitor != got[1].Monitor {
		t.Fatalf("plan = %+v, want %+v sharing one monitor", got, targets)
	}
	gm := *got[0].Monitor
	if gm.BodyRegexp.String() != "o+k" || gm.Interval != m.Interval || gm.Headers["X-A"] != "b" || gm.Path != "/health" {
		t.Errorf("monitor = %+v, want %+v", gm, *m)
	}
	if _, err := FetchPlan(context.Background(), srv.URL, "p1", []byte("guess")); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong secret: err = %v, want a 401", err)
	}
}

// TestPlanAtScale: the plan of the design's 50,000 monitored endpoints (~15 MB of JSON, more
// than a batch of observations may be) reaches a prober whole, gzipped on the wire; a client
// that does not ask for gzip gets it plain.
func TestPlanAtScale(t *testing.T) {
	m := &health.Monitor{Name: "web", Kind: "http", Interval: 10 * time.Second, Timeout: 2 * time.Second,
		Rise: 2, Fall: 3, Path: "/health", ExpectStatus: []int{200, 204}}
	targets := make([]health.Target, 50000)
	for i := range targets {
		a := netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)})
		targets[i] = health.Target{ID: fmt.Sprintf("p%04d/%s", i/100, a), Addr: netip.AddrPortFrom(a, 8080), Monitor: m}
	}
	var wire atomic.Int64
	h := PlanHandler(func() []health.Target { return targets }, secret, slog.New(slog.DiscardHandler), nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&countingWriter{ResponseWriter: w, n: &wire}, r)
	}))
	defer srv.Close()

	got, err := FetchPlan(context.Background(), srv.URL, "p1", secret)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(targets) || got[49999].ID != targets[49999].ID || got[0].Monitor != got[49999].Monitor {
		t.Fatalf("plan: %d targets (last %v), want %d sharing one monitor", len(got), got[len(got)-1].ID, len(targets))
	}
	plain, _ := json.Marshal(NewPlan(targets))
	if len(plain) <= maxBody {
		t.Fatalf("the plan is %d bytes: not past maxBody (%d), the test proves nothing", len(plain), maxBody)
	}
	if w := wire.Load(); w <= 0 || w > int64(len(plain)/5) {
		t.Errorf("%d bytes on the wire for %d of JSON: want gzip (under a fifth)", w, len(plain))
	}
	t.Logf("plan of %d targets: %d bytes of JSON, %d on the wire", len(targets), len(plain), wire.Load())

	wire.Store(0)
	c := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	if got, err = fetchPlan(context.Background(), c, srv.URL, "p1", secret, time.Now()); err != nil || len(got) != len(targets) {
		t.Fatalf("without gzip: %d targets, err %v", len(got), err)
	}
	if w := wire.Load(); w < int64(len(plain)) {
		t.Errorf("without gzip: %d bytes on the wire, want the plain %d", w, len(plain))
	}
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.n.Add(int64(len(b)))
	return c.ResponseWriter.Write(b)
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{"gzip": true, "br, GZIP;q=0.5": true, "gzip;q=0": false, "gzip; q=0.0": false,
		"identity": false, "": false, "deflate, gzip ; q=1": true} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if h != "" {
			r.Header.Set("Accept-Encoding", h)
		}
		if got := acceptsGzip(r); got != want {
			t.Errorf("Accept-Encoding %q: gzip = %v, want %v", h, got, want)
		}
	}
}
