package peer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-gslb/meridian/health/measure"
	"github.com/meridian-gslb/meridian/store"
)

// TestUnknownTargetsNotRecorded: a signed batch of 2,000 made-up target IDs and one real
// target records only the real one; the rest are counted, logged in one Warn line and
// answered 200, as is a batch of made-up IDs only.
func TestUnknownTargetsNotRecorded(t *testing.T) {
	const real = "a/127.0.0.1"
	st := openStore(t)
	st.SetRules(map[string]store.Rule{real: {Interval: time.Second}})
	now := time.Now().Truncate(time.Second)
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	rv := NewReceiver(ReceiverOptions{Secret: secret, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Now: func() time.Time { return now }, Known: func(id string) bool { return st.View().Ruled(id) }, Registerer: reg})
	h := rv.Observations(st)

	madeUp := func(n int) []ObservationJSON {
		obs := make([]ObservationJSON, n)
		for i := range obs {
			obs[i] = ObservationJSON{Target: fmt.Sprintf("made-up/%d", i), Up: true, At: now}
		}
		return obs
	}
	tests := []struct {
		name string
		obs  []ObservationJSON
		want string
	}{
		{"2000 made-up and one real", append(madeUp(2000), ObservationJSON{Target: real, Up: true, At: now}), `{"recorded":1,"rejected":2000}`},
		{"made-up only", madeUp(2000), `{"recorded":0,"rejected":2000}`},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			body := batchBody(t, Batch{Prober: "ghost", Observations: tc.obs})
			hdr := http.Header{}
			sign(hdr, secret, now, body)
			rec := send(t, h, ObservationsPath, hdr, body)
			if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != tc.want {
				t.Fatalf("got %d %s, want 200 %s", rec.Code, rec.Body, tc.want)
			}
			if got := st.View().Targets(); !slices.Equal(got, []string{real}) {
				t.Errorf("targets in the store = %d (%.3v…), want only %s", len(got), got, real)
			}
			if got, want := testutil.ToFloat64(rv.m.rejectedObs.WithLabelValues(reasonUnknownTarget)), float64(2000*(i+1)); got != want {
				t.Errorf("meridian_peer_rejected_observations_total{reason=unknown_target} = %v, want %v", got, want)
			}
			l := logs.String()
			if strings.Count(l, "level=WARN") != 1 || !strings.Contains(l, "prober=ghost") || !strings.Contains(l, "count=2000") ||
				!strings.Contains(l, "example=made-up/0") {
				t.Errorf("want one Warn line with prober, count and an example; log:\n%s", l)
			}
		})
	}
	if got := st.View().Target(real).Reports; len(got) != 1 || got[0].Prober != "ghost" {
		t.Errorf("reports on %s = %+v, want ghost's", real, got)
	}
	lintMetrics(t, reg)
}

// TestUnknownBackendLoads: a remote proxy's loads of backends the node does not know are not
// recorded; its RTTs and known loads are.
func TestUnknownBackendLoads(t *testing.T) {
	m := store.NewMeasurements(store.MeasureOptions{})
	rv := NewReceiver(ReceiverOptions{Secret: secret, KnownBackend: func(id string) bool { return id == "eu/192.0.2.1" },
		Known: func(string) bool { return false }}) // Known is for observations: not applied to loads
	rep := feedbackReport()
	rep.Load = append(rep.Load, measure.BackendLoad{ID: "made-up/1", InFlight: 5}, measure.BackendLoad{ID: "made-up/2", InFlight: 5})
	body := mustJSON(t, rep)
	hdr := http.Header{}
	sign(hdr, secret, time.Now(), body)
	rec := send(t, rv.Feedback(m), FeedbackPath, hdr, body)
	if want := `{"rtts":2,"loads":1,"rejected":2}`; rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != want {
		t.Fatalf("got %d %s, want 200 %s", rec.Code, rec.Body, want)
	}
	if _, ok := m.InFlight("made-up/1"); ok {
		t.Error("made-up backend's load recorded")
	}
	if n, ok := m.InFlight("eu/192.0.2.1"); !ok || n != 17 {
		t.Errorf("known backend's load = %d, %v; want 17", n, ok)
	}
	if got := testutil.ToFloat64(rv.m.rejectedLoads.WithLabelValues(reasonUnknownTarget)); got != 2 {
		t.Errorf("rejected loads = %v, want 2", got)
	}
}

// TestBatchNamesBounded: names the store could not key a row by, or would copy into every
// row, are refused with 400 (which a Publisher drops rather than retries).
func TestBatchNamesBounded(t *testing.T) {
	st := openStore(t)
	h := Handler(st, secret, slog.New(slog.DiscardHandler), nil)
	long := strings.Repeat("x", 40000)
	for _, b := range []Batch{
		{Prober: long, Observations: []ObservationJSON{{Target: "a"}}},
		{Prober: "p1", Region: long, Observations: []ObservationJSON{{Target: "a"}}},
		{Prober: "p1", Observations: []ObservationJSON{{Target: long}}},
		{Prober: "p\x00", Observations: []ObservationJSON{{Target: "a"}}},
		{Prober: "p1", Observations: []ObservationJSON{{Target: "a\x00b"}}},
	} {
		body := batchBody(t, b)
		hdr := http.Header{}
		sign(hdr, secret, time.Now(), body)
		if rec := send(t, h, ObservationsPath, hdr, body); rec.Code != http.StatusBadRequest {
			t.Errorf("prober %.8q region %.8q target %.8q: %d %s, want 400", b.Prober, b.Region, b.Observations[0].Target, rec.Code, rec.Body)
		}
	}
	if n := len(st.View().Targets()); n != 0 {
		t.Errorf("%d targets stored, want 0", n)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
