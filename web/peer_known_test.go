package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/health/peer"
	"github.com/meridian-gslb/meridian/store"
)

// TestPeerKnownTargets: with the store as Sink and no Known, the peer API records only the
// targets the store has rules for, counts the others on Registerer, and refuses a replay.
func TestPeerKnownTargets(t *testing.T) {
	secret := []byte("k3y")
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	st.SetRules(map[string]store.Rule{"eu/127.0.0.1": {Interval: time.Second}})
	reg := prometheus.NewRegistry()
	api := &API{Health: st, Peer: &Peer{Secret: secret, Sink: st, Plan: func() []health.Target { return nil }, Registerer: reg}}
	s := New(prometheus.NewRegistry(), func() error { return nil }, api, slog.New(slog.DiscardHandler))
	if err := s.Listen(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	url := "http://" + s.Addr().String() + peer.ObservationsPath

	body, _ := json.Marshal(peer.Batch{Prober: "ghost", Observations: []peer.ObservationJSON{{Target: "eu/127.0.0.1", Up: true}, {Target: "made-up/1"}}})
	ts, nonce := time.Now().Unix(), peer.NewNonce()
	post := func() (int, string) {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set(peer.HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(peer.HeaderNonce, nonce)
		req.Header.Set(peer.HeaderSignature, peer.Sign(secret, ts, nonce, body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, strings.TrimSpace(b.String())
	}
	if code, msg := post(); code != 200 || msg != `{"recorded":1,"rejected":1}` {
		t.Errorf("got %d %s, want 200 {\"recorded\":1,\"rejected\":1}", code, msg)
	}
	if code, msg := post(); code != 401 || !strings.Contains(msg, "replayed request") {
		t.Errorf("replay: got %d %s, want 401 replayed request", code, msg)
	}
	if got := st.View().Targets(); !slices.Equal(got, []string{"eu/127.0.0.1"}) {
		t.Errorf("targets = %v, want [eu/127.0.0.1]", got)
	}
	if n, err := testutil.GatherAndCount(reg, "meridian_peer_rejected_observations_total"); err != nil || n != 1 {
		t.Errorf("rejected series = %d (%v), want 1", n, err)
	}

	// Unsigned: refused on the head, the connection closed, the 8 MiB it announces never read.
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 8000000\r\n\r\n{\"prober\": ", peer.ObservationsPath)
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to an unsigned head: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close || time.Since(start) > time.Second {
		t.Errorf("unsigned head: %s (close %v) after %v, want 401 at once and the connection closed", resp.Status, resp.Close, time.Since(start))
	}
}
