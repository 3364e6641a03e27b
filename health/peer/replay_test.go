package peer

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-gslb/meridian/health"
)

// send POSTs body with header to h and returns the answer.
func send(t *testing.T, h http.Handler, path string, header http.Header, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header = header.Clone()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestReplayRefused: a byte-identical copy of an accepted signed request is refused with 401
// "replayed request" and a Warn line, by the handler that took it and by the other handlers
// of the same receiver; a fresh nonce is accepted; a request without a nonce is refused.
func TestReplayRefused(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	rv := NewReceiver(ReceiverOptions{Secret: secret, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Now: func() time.Time { return now }, Registerer: reg})
	sink := &memSink{got: map[string]health.Observation{}}
	obs := rv.Observations(sink)
	plan := rv.Plan(func() []health.Target { return nil })
	body := batchBody(t, Batch{Prober: "p1", Observations: []ObservationJSON{{Target: "a/127.0.0.1", Up: true}}})
	h := http.Header{}
	sign(h, secret, now, body)

	if rec := send(t, obs, ObservationsPath, h, body); rec.Code != http.StatusOK {
		t.Fatalf("first request: %d %s, want 200", rec.Code, rec.Body)
	}
	logs.Reset()
	rec := send(t, obs, ObservationsPath, h, body)
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "replayed request") {
		t.Errorf("replay: %d %s, want 401 replayed request", rec.Code, rec.Body)
	}
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "replayed request") || !strings.Contains(l, "prober=p1") {
		t.Errorf("replay without a Warn line naming the prober; log:\n%s", l)
	}
	if rec := send(t, plan, PlanPath, h, body); rec.Code != http.StatusUnauthorized {
		t.Errorf("replay to the plan handler: %d, want 401", rec.Code)
	}
	if rec := send(t, rv.Feedback(&feedbackSink{}), FeedbackPath, h, body); rec.Code != http.StatusUnauthorized {
		t.Errorf("replay to the feedback handler: %d, want 401", rec.Code)
	}
	again := http.Header{}
	sign(again, secret, now, body)
	if rec := send(t, obs, ObservationsPath, again, body); rec.Code != http.StatusOK {
		t.Errorf("a fresh nonce: %d %s, want 200", rec.Code, rec.Body)
	}
	noNonce := again.Clone()
	noNonce.Del(HeaderNonce)
	if rec := send(t, obs, ObservationsPath, noNonce, body); rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "nonce") {
		t.Errorf("without a nonce: %d %s, want 401 naming the nonce", rec.Code, rec.Body)
	}
	if got := testutil.ToFloat64(rv.m.refused.WithLabelValues(reasonReplayed)); got != 3 {
		t.Errorf("replayed requests counted = %v, want 3", got)
	}
	lintMetrics(t, reg)
}

// TestReplayCache: nonces are forgotten once their timestamp is out of the window (plus the
// slack), not before; a full cache refuses new nonces rather than forget one in the window.
func TestReplayCache(t *testing.T) {
	c := newReplayCache(2)
	t0 := time.Unix(1_800_000_000, 0)
	n1, n2, n3 := nonce{1}, nonce{2}, nonce{3}
	if err := c.admit(n1, t0, t0); err != nil {
		t.Fatal(err)
	}
	if err := c.admit(n1, t0, t0.Add(MaxSkew)); err != errReplayed {
		t.Errorf("same nonce at the window's edge: %v, want %v", err, errReplayed)
	}
	if err := c.admit(n2, t0.Add(MaxSkew), t0.Add(MaxSkew)); err != nil {
		t.Fatal(err)
	}
	if err := c.admit(n3, t0, t0.Add(MaxSkew)); err != errFull {
		t.Errorf("third nonce in a cache of 2: %v, want %v", err, errFull)
	}
	later := t0.Add(MaxSkew + replaySlack + time.Second) // n1 is out of the window; n2 is not
	if err := c.admit(n3, later, later); err != nil {
		t.Errorf("after n1 left the window: %v, want room", err)
	}
	if err := c.admit(n2, t0.Add(MaxSkew), later); err != errReplayed {
		t.Errorf("n2, still in the window: %v, want %v", err, errReplayed)
	}
	if c.len() != 2 {
		t.Errorf("len = %d, want 2", c.len())
	}
}

// TestReplayCacheFull: a receiver whose cache is full answers 503 with Retry-After, and
// accepts again once the nonces leave the window.
func TestReplayCacheFull(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { return now }
	rv := NewReceiver(ReceiverOptions{Secret: secret, Now: func() time.Time { return clock() }, MaxNonces: 3})
	obs := rv.Observations(&memSink{got: map[string]health.Observation{}})
	body := batchBody(t, Batch{Prober: "p1", Observations: []ObservationJSON{{Target: "a/127.0.0.1"}}})
	for i := range 4 {
		h := http.Header{}
		sign(h, secret, now, body)
		rec := send(t, obs, ObservationsPath, h, body)
		want := http.StatusOK
		if i == 3 {
			want = http.StatusServiceUnavailable
		}
		if rec.Code != want {
			t.Errorf("request %d: %d %s, want %d", i, rec.Code, rec.Body, want)
		}
		if want == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
	}
	later := now.Add(MaxSkew + replaySlack + time.Second)
	clock = func() time.Time { return later }
	h := http.Header{}
	sign(h, secret, later, body)
	if rec := send(t, obs, ObservationsPath, h, body); rec.Code != http.StatusOK {
		t.Errorf("after the window: %d %s, want 200", rec.Code, rec.Body)
	}
}

func lintMetrics(t *testing.T, reg *prometheus.Registry) {
	t.Helper()
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}
