package test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestProxyFeedbackSteersLatency runs the whole feedback loop in one `meridian serve`: clients
// go through the node's proxy (region b), which measures their TCP round-trip time and reports
// it per /24 to the node; the latency service then prefers b for those clients over the
// latency table's a, and explain says the RTT came from the proxy's measurement.
func TestProxyFeedbackSteersLatency(t *testing.T) {
	dir := t.TempDir()
	be := startBackend(t, "127.0.0.1:0")
	_, bport, _ := net.SplitHostPort(be.addr)
	proxyPort := freeTCPPort(t)
	p := freePorts(t)
	path := writeConfig(t, dir, "feedback.toml.tmpl", struct {
		ports
		Proxy   int
		Backend string
	}{p, proxyPort, bport})
	// The table: loopback clients are 1 ms from a and 80 ms from b.
	if err := os.WriteFile(filepath.Join(dir, "latency.csv"), []byte("client,region,rtt_ms\n127.0.0.0/24,a,1\n127.0.0.0/24,b,80\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	startNode(t, dir, p, "serve", "-c", path)
	answer := func() []string {
		got := addrs(parseDig(dig(t, "127.0.0.1", p.DNS, "api.example.test", "A")).answer)
		slices.Sort(got)
		return got
	}
	if got := answer(); !slices.Equal(got, []string{"127.0.1.1"}) {
		t.Fatalf("before any proxy traffic: %v, want a's 127.0.1.1 (the table)", got)
	}

	// Traffic through the proxy: new connections, each closed after its request.
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range 20 {
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/health", proxyPort))
		if err != nil {
			t.Fatalf("through the proxy: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("through the proxy: %s", resp.Status)
		}
	}
	// The proxy reports every 5 s.
	start := time.Now()
	for !slices.Equal(answer(), []string{"127.0.2.1"}) {
		if time.Since(start) > 12*time.Second {
			t.Fatalf("12 s after proxy traffic the answer is %v, want b's 127.0.2.1 (measured loopback RTT)", answer())
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("the latency answer moved to the measured region %v after the traffic", time.Since(start).Round(100*time.Millisecond))

	code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/explain?name=api.example.test&client=127.0.0.1", p.HTTP))
	var ex struct {
		Explanation string `json:"explanation"`
	}
	if err := json.Unmarshal([]byte(body), &ex); code != http.StatusOK || err != nil {
		t.Fatalf("explain: %d %v %s", code, err, body)
	}
	if !strings.Contains(ex.Explanation, "proxy measurement of 127.0.0.0/24") || !strings.Contains(ex.Explanation, "latency table") {
		t.Errorf("explain does not name both RTT sources:\n%s", ex.Explanation)
	}
	_, metrics := get(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", p.HTTP))
	if !strings.Contains(metrics, "meridian_latency_measurements 1") {
		t.Errorf("metrics: want meridian_latency_measurements 1\n%s", grepLines(metrics, "meridian_latency"))
	}
}
