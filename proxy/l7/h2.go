package l7

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

// HTTP/2 clients are served by net/http: each TLS connection that negotiated h2 is handed,
// already handshaken, to an http.Server through chanListener, and every request goes
// through httputil.ReverseProxy. Routing, backend choice, stickiness, rate limiting,
// retries and limits are the same code as the HTTP/1.1 engine's.

// initH2 builds the HTTP/2 side; called once TLS is configured.
func (s *Server) initH2() {
	s.h2ln = &chanListener{ch: make(chan net.Conn), done: make(chan struct{})}
	s.h2fl = &h2flight{m: make(map[*h2attempt]struct{})}
	s.h2tr = &http.Transport{
		DialContext:           (&net.Dialer{Timeout: s.o.BackendTimeout}).DialContext,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       idleConnTimeout,
		ResponseHeaderTimeout: s.o.BackendTimeout,
		DisableCompression:    true,
	}
	rp := &httputil.ReverseProxy{
		Rewrite:        s.h2Rewrite,
		Transport:      h2RoundTripper{s},
		ModifyResponse: s.h2Response,
		ErrorHandler:   s.h2Error,
		BufferPool:     h2BufPool{&sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}},
		ErrorLog:       slog.NewLogLogger(s.o.Logger.Handler(), slog.LevelDebug),
	}
	s.h2 = &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveH2(w, r, rp) }),
		TLSConfig:         s.tls,
		ReadHeaderTimeout: s.o.HeaderTimeout,
		IdleTimeout:       s.o.IdleTimeout,
		MaxHeaderBytes:    s.o.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.o.Logger.Handler(), slog.LevelDebug),
	}
}

// h2req is an HTTP/2 request as routing sees it, and the state of its attempts.
type h2req struct {
	r     *http.Request
	ip    string
	rt    *route
	tried tried
	pick  pickResult
	u     *balance.Upstream
	code  int
	start time.Time
	in    atomic.Int64 // request body bytes sent on (the transport reads them on its own goroutine)
	out   atomic.Int64 // response body bytes relayed
}

func (q *h2req) host() string     { return q.r.Host }
func (q *h2req) reqPath() string  { return q.r.URL.EscapedPath() }
func (q *h2req) clientIP() string { return q.ip }
func (q *h2req) header(name string) (string, bool) {
	v := q.r.Header.Values(name)
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}
func (q *h2req) cookie(name string) (string, bool) {
	c, err := q.r.Cookie(name)
	if err != nil {
		return "", false
	}
	return c.Value, true
}

type h2key struct{}

func (s *Server) serveH2(w http.ResponseWriter, r *http.Request, rp *httputil.ReverseProxy) {
	q := &h2req{r: r, start: time.Now()}
	q.ip, _, _ = net.SplitHostPort(r.RemoteAddr)
	if s.lim != nil {
		if ok, wait := s.lim.allow(q.ip, q.start); !ok {
			s.m.rejected(rejRateLimit)
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			http.Error(w, statusText(429), 429)
			s.m.request("", 429, q.start, 0, 0)
			return
		}
	}
	if q.rt = s.table.Load().find(q); q.rt == nil {
		http.Error(w, statusText(404), 404)
		s.m.request("", 404, q.start, 0, 0)
		return
	}
	rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), h2key{}, q)))
	backend := ""
	if q.u != nil {
		backend = q.u.ID
	}
	s.m.request(backend, q.code, q.start, q.in.Load(), q.out.Load())
}

func (s *Server) h2Rewrite(pr *httputil.ProxyRequest) {
	q := pr.In.Context().Value(h2key{}).(*h2req)
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = "backend.invalid" // set per attempt by the round tripper
	pr.Out.Host = pr.In.Host
	if prior, ok := pr.In.Header["X-Forwarded-For"]; ok {
		pr.Out.Header["X-Forwarded-For"] = prior // SetXForwarded appends to it
	}
	pr.SetXForwarded()
	prior := strings.Join(pr.In.Header.Values("Forwarded"), ", ")
	elem := string(appendForwardedElem(nil, q.ip, "https", pr.In.Host))
	if prior != "" {
		elem = prior + ", " + elem
	}
	pr.Out.Header.Set("Forwarded", elem)
}

func (s *Server) h2Response(resp *http.Response) error {
	q := resp.Request.Context().Value(h2key{}).(*h2req)
	q.code = resp.StatusCode
	if resp.StatusCode >= 500 {
		q.u.Failed(s.o.Outlier)
	} else {
		q.u.Succeeded()
	}
	if q.pick.setCookie && q.rt.r.Sticky != nil {
		b := appendSetCookie(nil, q.rt.r.Sticky, q.rt.stickyIDs[q.pick.idx])
		v := strings.TrimSuffix(strings.TrimPrefix(string(b), "Set-Cookie: "), "\r\n")
		resp.Header.Add("Set-Cookie", v)
	}
	return nil
}

// errNoBackend: no backend could take the request; full when one was at its limit.
type errNoBackend struct{ full, capped, failed bool }

func (e errNoBackend) Error() string { return "no backend available" }

func (s *Server) h2Error(w http.ResponseWriter, r *http.Request, err error) {
	q := r.Context().Value(h2key{}).(*h2req)
	code := 502
	var nb errNoBackend
	var ne net.Error
	switch {
	case errors.As(err, &nb) && !nb.failed:
		code = 503
		if nb.capped {
			s.m.rejected(rejSpillCap)
		} else if nb.full {
			s.m.rejected(rejBackendFull)
		} else {
			s.m.rejected(rejNoBackend)
		}
	case errors.As(err, &ne) && ne.Timeout():
		code = 504
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		code = 499 // the client went away; otherwise the sweeper ended a drained backend's attempt
	}
	q.code = code
	s.o.Logger.Debug("h2 proxy error", "err", err, "code", code)
	if code != 499 {
		http.Error(w, statusText(code), code)
	}
}

// h2RoundTripper picks the backend for each attempt and retries as the h1 engine does.
type h2RoundTripper struct{ s *Server }

func (t h2RoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	s := t.s
	q := req.Context().Value(h2key{}).(*h2req)
	retryEnd := q.start.Add(s.o.RetryTimeout)
	idem := idempotent(req.Method)
	var body *h2Body
	if req.Body != nil && req.Body != http.NoBody {
		body = &h2Body{rc: req.Body, n: &q.in}
	}
	failed := false
	for attempt := 0; ; attempt++ {
		p := q.rt.pick(q, &q.tried, s.o.MaxConnsPerBackend)
		if p.idx < 0 {
			return nil, errNoBackend{full: p.full, capped: p.capped, failed: failed}
		}
		u := q.rt.bs[p.idx]
		a := s.h2fl.add(req.Context(), u)
		out := req.WithContext(a.ctx)
		url := *req.URL
		url.Host = u.Addr
		out.URL = &url
		if body != nil {
			out.Body = body
		}
		resp, err := s.h2tr.RoundTrip(out)
		if err == nil {
			q.u, q.pick = u, p
			resp.Body = &releaseBody{ReadCloser: resp.Body, u: u, a: a, fl: s.h2fl, n: &q.out}
			return resp, nil
		}
		s.h2fl.done(a)
		u.Release()
		u.Failed(s.o.Outlier)
		q.tried.add(u)
		failed = true
		var oe *net.OpError
		dial := errors.As(err, &oe) && oe.Op == "dial"
		untouched := body == nil || !body.read
		if attempt < s.o.Retries && time.Now().Before(retryEnd) && untouched && (dial || idem) &&
			req.Context().Err() == nil {
			s.m.retry()
			continue
		}
		q.u = u
		return nil, err
	}
}

// h2Body lets a request body survive a failed attempt that did not read it, and counts
// the bytes sent on.
type h2Body struct {
	rc   io.ReadCloser
	read bool
	n    *atomic.Int64
}

func (b *h2Body) Read(p []byte) (int, error) {
	b.read = true
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *h2Body) Close() error { return nil } // the server closes the original

// releaseBody counts the response body bytes relayed and, when the body is closed, ends
// the backend's in-flight count and the attempt's registration.
type releaseBody struct {
	io.ReadCloser
	u    *balance.Upstream
	a    *h2attempt
	fl   *h2flight
	n    *atomic.Int64
	once sync.Once
}

func (b *releaseBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(func() {
		b.fl.done(b.a)
		b.u.Release()
	})
	return err
}

// h2flight holds the HTTP/2 requests in flight to the backends, so that the sweeper can
// end those to a backend draining for longer than DrainTimeout, as it closes the HTTP/1.1
// engine's connections (the stock Transport's connections are not the listener's to close
// one by one).
type h2flight struct {
	mu sync.Mutex
	m  map[*h2attempt]struct{}
}

// h2attempt is one request sent to u; cancelling ctx aborts it and its connection.
type h2attempt struct {
	u      *balance.Upstream
	ctx    context.Context
	cancel context.CancelFunc
}

func (f *h2flight) add(parent context.Context, u *balance.Upstream) *h2attempt {
	ctx, cancel := context.WithCancel(parent)
	a := &h2attempt{u: u, ctx: ctx, cancel: cancel}
	f.mu.Lock()
	f.m[a] = struct{}{}
	f.mu.Unlock()
	return a
}

func (f *h2flight) done(a *h2attempt) {
	f.mu.Lock()
	delete(f.m, a)
	f.mu.Unlock()
	a.cancel()
}

// sweep aborts the requests to backends draining for longer than drainTimeout.
func (f *h2flight) sweep(now time.Time, drainTimeout time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for a := range f.m {
		if since := a.u.DrainingSince(); !since.IsZero() && now.Sub(since) > drainTimeout {
			a.cancel() // the body read fails; releaseBody.Close then removes it
		}
	}
}

type h2BufPool struct{ p *sync.Pool }

func (b h2BufPool) Get() []byte  { return *b.p.Get().(*[]byte) }
func (b h2BufPool) Put(x []byte) { b.p.Put(&x) }

// chanListener hands connections accepted (and TLS-handshaken) elsewhere to an http.Server.
type chanListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

// hand gives c to the server; false when the listener is closed.
func (l *chanListener) hand(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// statusText is the reason phrase for the proxy's own responses.
func statusText(code int) string { return http.StatusText(code) }
