package peer

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/health/measure"
	"github.com/meridian-gslb/meridian/store"
)

func feedbackReport() measure.Report {
	return measure.Report{Proxy: "fra-1", Region: "eu", At: time.Now(),
		RTTs: []measure.PrefixRTT{{Prefix: netip.MustParsePrefix("81.2.69.0/24"), RTT: 4 * time.Millisecond, Samples: 9},
			{Prefix: netip.MustParsePrefix("2001:db8:1::/48"), RTT: 7 * time.Millisecond, Samples: 2}},
		Load: []measure.BackendLoad{{ID: "eu/192.0.2.1", InFlight: 17}}}
}

// TestFeedbackPush: the pusher's signed POST is accepted and fills the node's table;
// unsigned, wrongly signed, replayed and malformed reports are refused and record nothing.
func TestFeedbackPush(t *testing.T) {
	m := store.NewMeasurements(store.MeasureOptions{})
	srv := httptest.NewServer(FeedbackHandler(m, secret, slog.New(slog.DiscardHandler), nil))
	defer srv.Close()

	body, err := json.Marshal(feedbackReport())
	if err != nil {
		t.Fatal(err)
	}
	bad := feedbackReport()
	bad.RTTs[0].Prefix = netip.MustParsePrefix("81.2.0.0/16")
	badBody, _ := json.Marshal(bad)
	signed := func(ts time.Time, body, key []byte) http.Header {
		h := http.Header{}
		sign(h, key, ts, body)
		return h
	}
	now := time.Now()
	tests := []struct {
		name   string
		header http.Header
		body   []byte
		code   int
		want   string
	}{
		{"unsigned", http.Header{}, body, 401, "missing timestamp or signature"},
		{"wrong secret", signed(now, body, []byte("other")), body, 401, "bad signature"},
		{"replayed", signed(now.Add(-2*time.Minute), body, secret), body, 401, "off (allowed ±1m0s)"},
		{"body changed after signing", signed(now, body, secret), append(bytes.Clone(body[:len(body)-1]), ' ', '}'), 401, "bad signature"},
		{"not a client prefix", signed(now, badBody, secret), badBody, 400, "prefix 81.2.0.0/16 is not a client /24 or /48"},
		{"no proxy", signed(now, []byte(`{"region":"eu"}`), secret), []byte(`{"region":"eu"}`), 400, "names no proxy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", srv.URL, bytes.NewReader(tc.body))
			req.Header = tc.header
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var msg bytes.Buffer
			msg.ReadFrom(resp.Body)
			if resp.StatusCode != tc.code || !strings.Contains(msg.String(), tc.want) {
				t.Errorf("got %d %s, want %d containing %q", resp.StatusCode, msg.String(), tc.code, tc.want)
			}
			if m.Len() != 0 {
				t.Errorf("a refused report left %d measurements", m.Len())
			}
		})
	}

	p := NewFeedbackPusher([]string{srv.URL + "/"}, secret, srv.Client())
	if err := p.Record(context.Background(), feedbackReport()); err != nil {
		t.Fatalf("signed push: %v", err)
	}
	if rtt, ok := m.ClientRTT(netip.MustParseAddr("81.2.69.77"), "eu"); !ok || rtt != 4*time.Millisecond {
		t.Errorf("node's RTT for 81.2.69.77 to eu = %v, %v; want 4ms", rtt, ok)
	}
	if rtt, ok := m.ClientRTT(netip.MustParseAddr("2001:db8:1:5::1"), "eu"); !ok || rtt != 7*time.Millisecond {
		t.Errorf("node's RTT for 2001:db8:1:5::1 to eu = %v, %v; want 7ms", rtt, ok)
	}
	if n, ok := m.InFlight("eu/192.0.2.1"); !ok || n != 17 {
		t.Errorf("node's in-flight for eu/192.0.2.1 = %d, %v; want 17", n, ok)
	}

	wrong := NewFeedbackPusher([]string{srv.URL}, []byte("other"), srv.Client())
	if err := wrong.Record(context.Background(), feedbackReport()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("push with the wrong secret: %v, want a 401 error", err)
	}
}
