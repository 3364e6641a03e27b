package l7

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-gslb/meridian/proxy/balance"
	"github.com/meridian-gslb/meridian/proxy/stats"
)

// TestH2SharesDecisions: HTTP/2 requests go through the same routing, retries, stickiness
// and rate limits as HTTP/1.1.
func TestH2SharesDecisions(t *testing.T) {
	dir := t.TempDir()
	files, cert := writeCert(t, dir, "c", 1, "h2.test")
	a := newBackend(t, "a", nil)
	bad := dead(t, "dead")
	bad.Weight = 5
	m := stats.New(nil)
	_, url := startProxy(t, Options{Metrics: m, Retries: 2, RateLimit: RateLimit{Rate: 0.1, Burst: 4},
		TLS: &TLS{Certs: []CertFiles{files}},
		Routes: []*Route{{Path: "/app/*", Backends: []*balance.Upstream{bad, a.u},
			Selector: selector(t, "weighted_round_robin"), Sticky: &Sticky{Cookie: "s", TTL: time.Minute}}}})
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{ServerName: "h2.test", RootCAs: roots}}}
	defer c.CloseIdleConnections() // or the server's graceful stop waits for it

	resp, body := get(t, c, url+"/app/x")
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || body != "a" {
		t.Fatalf("got HTTP/%d %d %q, want HTTP/2 200 a (after a retry)", resp.ProtoMajor, resp.StatusCode, body)
	}
	if got := testutil.ToFloat64(m.Retries.WithLabelValues("test")); got != 1 {
		t.Errorf("retries %v, want 1", got)
	}
	if sc := resp.Header.Get("Set-Cookie"); !strings.HasPrefix(sc, "s=") || !strings.HasSuffix(sc, "; Max-Age=60; Path=/; HttpOnly") {
		t.Errorf("Set-Cookie %q", sc)
	}
	if resp, _ := get(t, c, url+"/other"); resp.StatusCode != 404 {
		t.Errorf("no route: %d, want 404", resp.StatusCode)
	}
	get(t, c, url+"/app/x")
	get(t, c, url+"/app/x")
	resp, _ = get(t, c, url+"/app/x")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the rate: %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}
