package web

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/health/measure"
	"github.com/meridian-gslb/meridian/health/peer"
	"github.com/meridian-gslb/meridian/proxy/feedback"
	"github.com/meridian-gslb/meridian/store"
)

// TestFeedbackEndpoint: a remote proxy's recorder measures a real loopback client connection
// and its reporter pushes to the node's /api/v1/peer/feedback, which fills the node's table;
// an unsigned POST is refused with 401 and other methods with 405.
func TestFeedbackEndpoint(t *testing.T) {
	secret := []byte("k3y")
	m := store.NewMeasurements(store.MeasureOptions{})
	recorded := make(chan struct{}, 1)
	api := &API{Peer: &Peer{Secret: secret, Feedback: notifySink{m, recorded}}}
	s := New(prometheus.NewRegistry(), func() error { return nil }, api, slog.New(slog.DiscardHandler))
	if err := s.Listen(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	base := "http://" + s.Addr().String()

	for _, tc := range []struct {
		method string
		code   int
	}{{"POST", 401}, {"GET", 405}} {
		req, _ := http.NewRequest(tc.method, base+peer.FeedbackPath, strings.NewReader(`{"proxy":"x"}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("unsigned %s = %d, want %d", tc.method, resp.StatusCode, tc.code)
		}
	}
	if m.Len() != 0 {
		t.Fatalf("refused requests recorded %d measurements", m.Len())
	}

	rec := feedback.NewRecorder(feedback.Options{Proxy: "remote-1", Region: "eu",
		Loads: func() []measure.BackendLoad { return []measure.BackendLoad{{ID: "eu/127.0.0.1", InFlight: 3}} }})
	rec.ObserveConn(loopbackConn(t))
	rep := feedback.NewReporter(rec, peer.NewFeedbackPusher([]string{base}, secret, nil), feedback.ReporterOptions{Interval: time.Hour})
	rctx, rcancel := context.WithCancel(context.Background())
	rdone := make(chan error, 1)
	go func() { rdone <- rep.Run(rctx) }() // sends at once
	select {
	case <-recorded:
	case <-time.After(5 * time.Second):
		t.Fatal("no report recorded within 5s")
	}
	rcancel()
	<-rdone
	if got, ok := m.ClientRTT(netip.MustParseAddr("127.0.0.9"), "eu"); !ok || got <= 0 {
		t.Errorf("node's RTT for 127.0.0.0/24 to eu = %v, %v; want a positive measurement", got, ok)
	}
	if n, ok := m.InFlight("eu/127.0.0.1"); !ok || n != 3 {
		t.Errorf("node's in-flight for eu/127.0.0.1 = %d, %v; want 3", n, ok)
	}
}

// notifySink records in the table, then signals.
type notifySink struct {
	m    *store.Measurements
	done chan struct{}
}

func (n notifySink) Record(ctx context.Context, r measure.Report) error {
	err := n.m.Record(ctx, r)
	select {
	case n.done <- struct{}{}:
	default:
	}
	return err
}

// loopbackConn returns the accepted side of a loopback connection that has carried a few
// round trips, so the kernel has an RTT for it; it is closed when the test ends.
func loopbackConn(t *testing.T) *net.TCPConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	_ = a.SetDeadline(time.Now().Add(5 * time.Second))
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1)
	for range 5 {
		if _, err := a.Write([]byte{1}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte{2}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(a, buf); err != nil {
			t.Fatal(err)
		}
	}
	return a.(*net.TCPConn)
}
