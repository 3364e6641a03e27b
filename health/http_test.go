package health

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func httpBackend(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello world") })
	mux.HandleFunc("/503", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "method=%s host=%s probe=%s ua=%s", r.Method, r.Host, r.Header.Get("X-Probe"), r.UserAgent())
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTP(t *testing.T) {
	srv := httpBackend(t)
	addr := addrPort(t, srv.Listener.Addr())
	tests := []struct {
		name    string
		mon     Monitor
		refused bool
		wantErr string
	}{
		{name: "ok", mon: Monitor{Path: "/ok"}},
		{name: "default path is /, 404 fails", mon: Monitor{}, wantErr: "status 404, want 200-399"},
		{name: "status mismatch", mon: Monitor{Path: "/503"}, wantErr: "status 503, want 200-399"},
		{name: "expect status list", mon: Monitor{Path: "/ok", ExpectStatus: []int{204, 206}}, wantErr: "status 200, want 204,206"},
		{name: "body contains", mon: Monitor{Path: "/ok", ExpectBody: "world"}},
		{name: "body does not contain", mon: Monitor{Path: "/ok", ExpectBody: "nope"}, wantErr: `body does not contain "nope"`},
		{name: "body regexp", mon: Monitor{Path: "/ok", BodyRegexp: regexp.MustCompile(`^hello\s+w`)}},
		{name: "body regexp mismatch", mon: Monitor{Path: "/ok", BodyRegexp: regexp.MustCompile(`^bye`)}, wantErr: `body does not match "^bye"`},
		{name: "max body bounds the read", mon: Monitor{Path: "/ok", ExpectBody: "world", MaxBody: 5}, wantErr: `body does not contain "world"`},
		{name: "3xx is the result by default", mon: Monitor{Path: "/redirect"}},
		{name: "redirect not followed", mon: Monitor{Path: "/redirect", ExpectStatus: []int{200}}, wantErr: "status 302, want 200"},
		{name: "redirect followed", mon: Monitor{Path: "/redirect", ExpectStatus: []int{200}, FollowRedirects: true, ExpectBody: "hello"}},
		{name: "method host headers", mon: Monitor{Method: "POST", Path: "/echo", Host: "www.example.org", Headers: map[string]string{"X-Probe": "yes"},
			ExpectBody: "method=POST host=www.example.org probe=yes ua=meridian-health/1"}},
		{name: "timeout", mon: Monitor{Path: "/hang", Timeout: 100 * time.Millisecond}, wantErr: "timeout after 100ms"},
		{name: "refused", mon: Monitor{Path: "/ok"}, refused: true, wantErr: "connect: connection refused"},
	}
	p := NewHTTP(HTTPOptions{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.mon.Kind = "http"
			tg := Target{ID: "p/" + tc.name, Addr: addr, Monitor: &tc.mon}
			if tc.refused {
				tg.Addr = closedPort(t)
			}
			checkResult(t, p.Probe(t.Context(), tg), tc.wantErr)
		})
	}
}

func TestHTTPS(t *testing.T) {
	var sni atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secure") }))
	srv.TLS = &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		sni.Store(h.ServerName)
		return nil, nil
	}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes below are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	addr := addrPort(t, srv.Listener.Addr())
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate()) // valid for example.com and 127.0.0.1
	notAfter := srv.Certificate().NotAfter

	tests := []struct {
		name    string
		roots   *x509.CertPool
		mon     Monitor
		wantErr string // prefix
		wantSNI string
	}{
		{name: "self-signed fails validation", mon: Monitor{}, wantErr: "certificate: x509: certificate signed by unknown authority"},
		{name: "insecure skips validation", mon: Monitor{Insecure: true, ExpectBody: "secure"}},
		{name: "trusted root, IP SAN", roots: roots, mon: Monitor{}},
		{name: "server name is SNI", roots: roots, mon: Monitor{ServerName: "example.com"}, wantSNI: "example.com"},
		{name: "host is SNI by default", roots: roots, mon: Monitor{Host: "example.com:8443"}, wantSNI: "example.com"},
		{name: "server name wins over host", roots: roots, mon: Monitor{Host: "www.example.org", ServerName: "example.com"}, wantSNI: "example.com"},
		{name: "wrong server name", roots: roots, mon: Monitor{ServerName: "wrong.example"}, wantErr: "certificate: x509: certificate is valid for", wantSNI: "wrong.example"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sni.Store("")
			tc.mon.Kind = "https"
			r := NewHTTP(HTTPOptions{RootCAs: tc.roots}).Probe(t.Context(), Target{ID: "p/x", Addr: addr, Monitor: &tc.mon})
			if tc.wantErr == "" {
				checkResult(t, r, "")
				if !r.CertExpiry.Equal(notAfter) {
					t.Errorf("CertExpiry = %v, want %v", r.CertExpiry, notAfter)
				}
			} else if r.OK || !strings.HasPrefix(r.Err, tc.wantErr) {
				t.Errorf("result = {OK:%v Err:%q}, want an error starting %q", r.OK, r.Err, tc.wantErr)
			}
			if got := sni.Load(); got != tc.wantSNI {
				t.Errorf("SNI = %q, want %q", got, tc.wantSNI)
			}
		})
	}
}

// TestHTTPCancel: a probe in flight returns when its context ends, not at its timeout.
func TestHTTPCancel(t *testing.T) {
	srv := httpBackend(t)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	r := NewHTTP(HTTPOptions{}).Probe(ctx, Target{ID: "p/x", Addr: addrPort(t, srv.Listener.Addr()), Monitor: &Monitor{Kind: "http", Path: "/hang", Timeout: 10 * time.Second}})
	if r.OK || r.Err != "canceled" || time.Since(start) > 5*time.Second {
		t.Errorf("result = %+v after %v, want canceled at once", r, time.Since(start))
	}
}
