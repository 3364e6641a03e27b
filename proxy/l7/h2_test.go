package l7

import (
	"crypto/tls"
	"crypto/x509"
	"io"
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

// h2Client trusts cert and asks for HTTP/2 with the server name name.
func h2Client(cert *x509.Certificate, name string) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{ServerName: name, RootCAs: roots}}}
}

// TestH2CountsBytes: request and response body bytes of HTTP/2 requests are counted, the
// request's even when its length is not known in advance.
func TestH2CountsBytes(t *testing.T) {
	files, cert := writeCert(t, t.TempDir(), "c", 1, "h2.test")
	a := newBackend(t, "a", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, strings.Repeat("x", 3000))
	}))
	m := stats.New(nil)
	_, url := startProxy(t, Options{Metrics: m, TLS: &TLS{Certs: []CertFiles{files}},
		Routes: catchAll(t, "round_robin", a)})
	c := h2Client(cert, "h2.test")
	defer c.CloseIdleConnections()

	resp, body := get(t, c, url+"/")
	if resp.ProtoMajor != 2 || len(body) != 3000 {
		t.Fatalf("got HTTP/%d with %d bytes, want HTTP/2 with 3000", resp.ProtoMajor, len(body))
	}
	pr, pw := io.Pipe() // no Content-Length: the body is streamed
	go func() {
		pw.Write([]byte(strings.Repeat("y", 1200)))
		pw.Close()
	}()
	do(t, c, mustReq(t, "POST", url+"/", pr))
	if got := testutil.ToFloat64(m.Bytes.WithLabelValues("test", "out")); got != 6000 {
		t.Errorf("bytes out %v, want 6000", got)
	}
	if got := testutil.ToFloat64(m.Bytes.WithLabelValues("test", "in")); got != 1200 {
		t.Errorf("bytes in %v, want 1200", got)
	}
}

// TestH2DrainTimeoutEndsLongRequests: an HTTP/2 request to a backend draining for longer
// than DrainTimeout is cut, as on the HTTP/1.1 engine, and the backend sees it end.
func TestH2DrainTimeoutEndsLongRequests(t *testing.T) {
	files, cert := writeCert(t, t.TempDir(), "c", 1, "h2.test")
	started, ended := make(chan struct{}, 1), make(chan struct{}, 1)
	a := newBackend(t, "a", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { ended <- struct{}{} }()
		started <- struct{}{}
		for range 200 { // 10 s at most
			if _, err := io.WriteString(w, "x"); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}))
	_, url := startProxy(t, Options{DrainTimeout: 300 * time.Millisecond, TLS: &TLS{Certs: []CertFiles{files}},
		Routes: catchAll(t, "round_robin", a)})
	c := h2Client(cert, "h2.test")
	c.Timeout = 0 // the request is expected to be cut, not to time out
	defer c.CloseIdleConnections()
	resp, err := c.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("HTTP/%d, want 2", resp.ProtoMajor)
	}
	<-started
	a.u.SetDraining(true)
	start := time.Now()
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, resp.Body); done <- err }()
	select {
	case err := <-done:
		if el := time.Since(start); el < 250*time.Millisecond {
			t.Errorf("request ended %v after draining began, want about 300-550ms", el)
		}
		if err == nil {
			t.Error("the cut response ended cleanly, want a stream error")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("request still running 3s after draining began (DrainTimeout 300ms)")
	}
	select {
	case <-ended:
	case <-time.After(3 * time.Second):
		t.Error("the backend's handler still runs")
	}
}
