package health

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// HTTPOptions configure the http and https prober.
type HTTPOptions struct {
	// RootCAs verify https targets' certificates; nil means the host's root CAs.
	RootCAs *x509.CertPool
	// UserAgent of every probe; default "meridian-health/1". A monitor's headers can override it.
	UserAgent string
}

// httpProber probes "http" and "https" monitors through one shared Transport. Keep-alives are
// off, so every probe opens a fresh connection and a dead backend is seen as one.
type httpProber struct {
	tr *http.Transport
	ua string
}

// tlsParamsKey carries a probe's TLS settings to the Transport's shared TLS dialer.
type tlsParamsKey struct{}

type tlsParams struct {
	addr       string // the target's address: the settings apply to it, not to a redirect elsewhere
	serverName string
	insecure   bool
}

// NewHTTP returns the prober for the kinds "http" and "https".
func NewHTTP(o HTTPOptions) Prober {
	p := &httpProber{ua: o.UserAgent}
	if p.ua == "" {
		p.ua = "meridian-health/1"
	}
	d := &net.Dialer{}
	p.tr = &http.Transport{
		Proxy:       nil, // probe the target itself, whatever HTTP_PROXY says
		DialContext: d.DialContext,
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conf := &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12}
			tp, _ := ctx.Value(tlsParamsKey{}).(tlsParams)
			if addr == tp.addr {
				conf.ServerName = tp.serverName
			} else { // a redirect to another address: verify the name it was reached by
				conf.ServerName, _, _ = net.SplitHostPort(addr)
			}
			conf.InsecureSkipVerify = tp.insecure
			raw, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tc := tls.Client(raw, conf)
			if err := tc.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return tc, nil
		},
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return p
}

func (p *httpProber) Probe(ctx context.Context, t Target) Result {
	start := time.Now()
	timeout := timeoutOf(t.Monitor)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	expiry, err := p.probe(ctx, t)
	r := result(ctx, start, timeout, err)
	r.CertExpiry = expiry
	return r
}

func (p *httpProber) probe(ctx context.Context, t Target) (certExpiry time.Time, err error) {
	m := t.Monitor
	scheme, method, path := "http", m.Method, m.Path
	if m.Kind == "https" {
		scheme = "https"
	}
	if method == "" {
		method = http.MethodGet
	}
	if path == "" {
		path = "/"
	}
	addr := t.Addr.String()
	req, err := http.NewRequestWithContext(ctx, method, scheme+"://"+addr+path, nil)
	if err != nil {
		return time.Time{}, err
	}
	req.Header.Set("User-Agent", p.ua)
	for k, v := range m.Headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	if m.Host != "" {
		req.Host = m.Host
	}
	if scheme == "https" {
		sni := m.ServerName
		if sni == "" && req.Host != addr {
			sni = hostOnly(req.Host)
		}
		if sni == "" {
			sni = t.Addr.Addr().Unmap().String() // verified against the certificate's IP addresses
		}
		req = req.WithContext(context.WithValue(ctx, tlsParamsKey{}, tlsParams{addr: addr, serverName: sni, insecure: m.Insecure}))
	}
	c := &http.Client{Transport: p.tr, CheckRedirect: func(_ *http.Request, via []*http.Request) error {
		if !m.FollowRedirects {
			return http.ErrUseLastResponse // the 3xx itself is the result
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}}
	resp, err := c.Do(req)
	if err != nil {
		return time.Time{}, err
	}
	defer resp.Body.Close()
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		certExpiry = resp.TLS.PeerCertificates[0].NotAfter
	}
	if !statusOK(resp.StatusCode, m.ExpectStatus) {
		return certExpiry, failf("status %d, want %s", resp.StatusCode, wantStatus(m.ExpectStatus))
	}
	if m.ExpectBody == "" && m.BodyRegexp == nil {
		return certExpiry, nil
	}
	limit := m.MaxBody
	if limit <= 0 {
		limit = defaultMaxBody
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return certExpiry, fmt.Errorf("read body: %w", err)
	}
	if m.ExpectBody != "" && !strings.Contains(string(body), m.ExpectBody) {
		return certExpiry, failf("body does not contain %q", m.ExpectBody)
	}
	if m.BodyRegexp != nil && !m.BodyRegexp.Match(body) {
		return certExpiry, failf("body does not match %q", m.BodyRegexp.String())
	}
	return certExpiry, nil
}

// statusOK: code is one of want, or 200–399 when want is empty.
func statusOK(code int, want []int) bool {
	if len(want) == 0 {
		return code >= 200 && code <= 399
	}
	return slices.Contains(want, code)
}

func wantStatus(want []int) string {
	if len(want) == 0 {
		return "200-399"
	}
	s := make([]string, len(want))
	for i, w := range want {
		s[i] = strconv.Itoa(w)
	}
	return strings.Join(s, ",")
}

// hostOnly strips the port from a Host header value, if it has one.
func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}
