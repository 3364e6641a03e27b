package config

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"
)

// The [proxy.NAME] tables: local L4/L7 listeners over a pool's endpoints or an explicit list.

// Proxy modes.
const (
	ModeHTTP = "http"
	ModeTCP  = "tcp"
)

// Algorithms are the selection policies a listener can use (proxy/balance names).
var Algorithms = []string{"round_robin", "weighted_round_robin", "least_conn", "ip_hash", "consistent_hash", "random", "p2c"}

// httpOnlyKeys and tcpOnlyKeys are the listener keys that belong to one mode.
var (
	httpOnlyKeys = []string{"header_timeout", "backend_timeout", "websocket_idle_timeout", "max_header_bytes",
		"retries", "retry_timeout", "tls", "sticky", "rate_limit", "routes"}
	tcpOnlyKeys = []string{"connect_timeout", "proxy_protocol"}
)

// Proxy is one [proxy.NAME] table: a local listener that balances over backends.
type Proxy struct {
	Name string
	Mode string // ModeHTTP (L7, default) or ModeTCP (L4)
	// Listen is where clients connect; port 0 picks a free port (tests).
	Listen netip.AddrPort
	// Pool and Port: the backends are the pool's enabled endpoints at Port, with the health
	// of the pool's monitor. Otherwise Backends is an explicit list, probed by Monitor if set.
	Pool     string
	Port     uint16
	Backends []ProxyBackend
	Monitor  string
	// Region is where this listener runs, for feedback; default the pool's region.
	Region    string
	Algorithm string // a balance.New name; default round_robin
	// HashKey is what ip_hash and consistent_hash hash: "ip" (default), "header:NAME",
	// "cookie:NAME" or "path"; only "ip" for tcp listeners.
	HashKey string

	DrainTimeout       time.Duration // default 30s
	MaxConns           int           // client connections; 0: no limit
	MaxConnsPerBackend int64         // 0: no limit
	IdleTimeout        time.Duration // default 60s (http), 5m (tcp)

	// tcp only
	ConnectTimeout time.Duration // default 5s
	ProxyProtocol  string        // "", "v1" or "v2"

	// http only
	HeaderTimeout        time.Duration // default 10s
	BackendTimeout       time.Duration // default 60s
	WebSocketIdleTimeout time.Duration // default 10m
	MaxHeaderBytes       int           // default 64 KiB
	Retries              int           // default 2
	RetryTimeout         time.Duration // default 2s
	TLS                  *ProxyTLS     // nil: plain HTTP
	Sticky               *ProxySticky  // nil: no sticky sessions
	RateLimit            ProxyRateLimit
	Routes               []ProxyRoute // first match wins; the listener's own backends are the default route

	Outlier ProxyOutlier

	// Spill is where the work goes that none of the listener's own backends can take: other
	// regions' pools, in order, from spill or derived from SpillService's pool order
	// (config/spill.go). Empty: no spill.
	Spill         []ProxySpill
	SpillService  string  // fully qualified, or ""
	SpillMaxConns int64   // spilled requests/connections in flight at once; 0: no cap
	SpillRate     float64 // new spilled requests/connections per second; 0: no cap
	Line          int
}

// ProxyBackend is one entry of an explicit backends list.
type ProxyBackend struct {
	Addr   netip.AddrPort
	Weight int // 1..65535, default 1
	Line   int
}

// ProxyTLS is [proxy.NAME.tls]: TLS termination.
type ProxyTLS struct {
	Certs      []ProxyCert // chosen by SNI; the first is the default
	MinVersion uint16      // tls.VersionTLS12 (default) or tls.VersionTLS13
}

// ProxyCert is one certificate and its key, paths resolved beside the config file.
type ProxyCert struct{ Cert, Key string }

// ProxySticky is [proxy.NAME.sticky]: sticky sessions by cookie.
type ProxySticky struct {
	Cookie string        // default "meridian_sticky"
	TTL    time.Duration // default 1h
}

// ProxyRateLimit is [proxy.NAME.rate_limit]: a token bucket per client IP. Rate 0: none.
type ProxyRateLimit struct {
	Rate  float64 // tokens per second
	Burst int     // default: the rate rounded up
}

// ProxyOutlier is [proxy.NAME.outlier]: passive ejection after Failures consecutive failures
// for Base, doubling up to Max. Failures 0 turns it off.
type ProxyOutlier struct {
	Failures  int
	Base, Max time.Duration
}

// ProxyRoute is one [[proxy.NAME.routes]] entry of an http listener.
type ProxyRoute struct {
	Host    string  // exact ("api.example.com") or wildcard ("*.example.com"), lower-case; "" any
	Path    string  // exact, or a prefix ending in "/*"; "" any
	Header  string  // "Name: value" or "Name" (present); "" any
	Percent float64 // share of the matching requests, 0 < p <= 100; default 100
	// Pool and Port, or Backends, as for the listener.
	Pool      string
	Port      uint16
	Backends  []ProxyBackend
	Algorithm string // default: the listener's
	HashKey   string // default: the listener's
	Line      int
}

// Proxy returns the listener named name.
func (c *Config) Proxy(name string) (Proxy, bool) {
	for _, p := range c.Proxies {
		if p.Name == name {
			return p, true
		}
	}
	return Proxy{}, false
}

// proxyRefs is what the listeners may refer to.
type proxyRefs struct {
	file     string
	pools    []Pool
	monitors []Monitor
	regions  []Region
	server   Server
}

func decodeProxies(o *obj, refs proxyRefs) []Proxy {
	if o == nil {
		return nil
	}
	var out []Proxy
	o.Each(func(name string, po *obj) {
		defer po.Done()
		if !poolName.MatchString(name) {
			po.d.add(po.pos, po.path, fmt.Sprintf("%q is not a valid proxy name (lower-case letters, digits, - and _)", name))
		}
		p, ok := decodeProxy(po, name, refs)
		if !ok {
			return
		}
		if lv := po.t.m["listen"]; lv != nil {
			if msg := listenClash(p, out, refs.server); msg != "" {
				po.problem(lv, "listen", "%s", msg)
			}
		}
		out = append(out, p)
	})
	o.Done()
	slices.SortFunc(out, func(a, b Proxy) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// listenClash says which listener already uses p's address, or "".
func listenClash(p Proxy, others []Proxy, srv Server) string {
	if p.Listen.Port() == 0 {
		return ""
	}
	overlap := func(a netip.AddrPort) bool {
		return a.Port() == p.Listen.Port() &&
			(a.Addr() == p.Listen.Addr() || a.Addr().IsUnspecified() || p.Listen.Addr().IsUnspecified())
	}
	for _, q := range others {
		if overlap(q.Listen) {
			return fmt.Sprintf("%s is already the listen address of proxy %q (line %d)", p.Listen, q.Name, q.Line)
		}
	}
	for _, a := range srv.DNS {
		if overlap(a) {
			return fmt.Sprintf("%s is already a DNS listener of [server] (dns)", p.Listen)
		}
	}
	if srv.HTTP.IsValid() && overlap(srv.HTTP) {
		return fmt.Sprintf("%s is already the HTTP listener of [server] (http)", p.Listen)
	}
	return ""
}

func decodeProxy(o *obj, name string, refs proxyRefs) (Proxy, bool) {
	p := Proxy{Name: name, Line: o.pos.line}
	p.Mode, _ = o.Word("mode", ModeHTTP, ModeHTTP, ModeTCP)
	l, lv := o.String("listen", "")
	switch ap, err := netip.ParseAddrPort(l); {
	case lv == nil:
		o.problem(nil, "listen", "is required: the address clients connect to (e.g. \"127.0.0.1:8080\")")
	case err != nil:
		o.problem(lv, "listen", "%q is not an ip:port address (e.g. \"127.0.0.1:8080\", \"[::1]:8443\")", l)
	default:
		p.Listen = ap
	}
	p.Pool, p.Port, p.Backends = decodeBackendSource(o, refs, true)
	if mon, mv := o.String("monitor", ""); mv != nil {
		switch {
		case p.Pool != "" || o.t.m["pool"] != nil:
			o.problem(mv, "monitor", "a pool's backends are probed by the pool's monitor; monitor is for an explicit backends list")
		case !slices.ContainsFunc(refs.monitors, func(m Monitor) bool { return m.Name == mon }):
			o.problem(mv, "monitor", "%s", undefined("monitor", mon, monitorNames(refs.monitors)))
		default:
			p.Monitor = mon
		}
	}
	if r, rv := o.String("region", ""); rv != nil {
		if !slices.ContainsFunc(refs.regions, func(x Region) bool { return x.Name == r }) {
			o.problem(rv, "region", "%s", undefined("region", r, regionNames(refs.regions)))
		} else {
			p.Region = r
		}
	} else if pl, ok := findPool(refs.pools, p.Pool); ok {
		p.Region = pl.Region
	}
	p.Algorithm, _ = o.Word("algorithm", "round_robin", Algorithms...)
	p.HashKey = decodeHashKey(o, p.Mode, p.Algorithm, "ip")

	p.DrainTimeout, _ = o.Duration("drain_timeout", 30*time.Second, 0, time.Hour)
	mc, _ := o.Int("max_conns", 0, 0, 1_000_000)
	p.MaxConns = int(mc)
	p.MaxConnsPerBackend, _ = o.Int("max_conns_per_backend", 0, 0, 1_000_000)
	idle := 60 * time.Second
	if p.Mode == ModeTCP {
		idle = 5 * time.Minute
	}
	p.IdleTimeout, _ = o.Duration("idle_timeout", idle, time.Second, 24*time.Hour)

	wrongMode := httpOnlyKeys
	if p.Mode == ModeTCP {
		p.ConnectTimeout, _ = o.Duration("connect_timeout", 5*time.Second, 10*time.Millisecond, time.Minute)
		p.ProxyProtocol, _ = o.Word("proxy_protocol", "", "v1", "v2")
	} else {
		wrongMode = tcpOnlyKeys
		decodeHTTPProxy(o, &p, refs)
	}
	for _, k := range wrongMode {
		if v := o.t.m[k]; v != nil {
			o.known = append(o.known, k)
			o.problem(v, k, "is for %s listeners; this one is mode = %q", otherMode(p.Mode), p.Mode)
		}
	}
	p.Outlier = ProxyOutlier{Failures: 5, Base: 10 * time.Second, Max: 5 * time.Minute}
	if oo := o.Table("outlier"); oo != nil {
		f, _ := oo.Int("failures", 5, 0, 1000)
		p.Outlier.Failures = int(f)
		p.Outlier.Base, _ = oo.Duration("base", 10*time.Second, 100*time.Millisecond, time.Hour)
		mx, mv := oo.Duration("max", max(5*time.Minute, p.Outlier.Base), 100*time.Millisecond, 24*time.Hour)
		if mv != nil && mx < p.Outlier.Base {
			oo.problem(mv, "max", "%v is shorter than base %v", mx, p.Outlier.Base)
		}
		p.Outlier.Max = mx
		oo.Done()
	}
	decodeSpill(o, &p, refs)
	return p, lv != nil
}

func otherMode(m string) string {
	if m == ModeTCP {
		return ModeHTTP
	}
	return ModeTCP
}

func decodeHTTPProxy(o *obj, p *Proxy, refs proxyRefs) {
	p.HeaderTimeout, _ = o.Duration("header_timeout", 10*time.Second, 100*time.Millisecond, 5*time.Minute)
	p.BackendTimeout, _ = o.Duration("backend_timeout", 60*time.Second, 100*time.Millisecond, time.Hour)
	p.WebSocketIdleTimeout, _ = o.Duration("websocket_idle_timeout", 10*time.Minute, time.Second, 24*time.Hour)
	mh, _ := o.Int("max_header_bytes", 64<<10, 1<<10, 1<<20)
	p.MaxHeaderBytes = int(mh)
	r, _ := o.Int("retries", 2, 0, 10)
	p.Retries = int(r)
	p.RetryTimeout, _ = o.Duration("retry_timeout", 2*time.Second, 0, time.Minute)
	if to := o.Table("tls"); to != nil {
		p.TLS = decodeProxyTLS(to, refs.file)
	}
	if so := o.Table("sticky"); so != nil {
		p.Sticky = &ProxySticky{}
		p.Sticky.Cookie, _ = so.String("cookie", "meridian_sticky")
		if !isToken(p.Sticky.Cookie) {
			so.problem(so.t.m["cookie"], "cookie", "%q is not a valid cookie name", p.Sticky.Cookie)
		}
		p.Sticky.TTL, _ = so.Duration("ttl", time.Hour, time.Second, 365*24*time.Hour)
		so.Done()
	}
	if ro := o.Table("rate_limit"); ro != nil {
		rate, rv := ro.Float("rate", 0, 0, 1e6)
		if rv == nil {
			ro.problem(nil, "rate", "is required: requests per second per client IP (e.g. rate = 100.0)")
		} else if rate <= 0 {
			ro.problem(rv, "rate", "must be above 0 (leave out [rate_limit] for no limit)")
		}
		b, _ := ro.Int("burst", int64(max(1, int(rate+0.999999))), 1, 1_000_000)
		p.RateLimit = ProxyRateLimit{Rate: rate, Burst: int(b)}
		ro.Done()
	}
	for i, rt := range o.Tables("routes") {
		p.Routes = append(p.Routes, decodeRoute(rt, i, p, refs))
	}
}

func decodeProxyTLS(o *obj, file string) *ProxyTLS {
	defer o.Done()
	t := &ProxyTLS{MinVersion: tls.VersionTLS12}
	if v, _ := o.Word("min_version", "1.2", "1.2", "1.3"); v == "1.3" {
		t.MinVersion = tls.VersionTLS13
	}
	cv := o.t.m["certificates"]
	for _, co := range o.Tables("certificates") {
		var c ProxyCert
		for _, k := range []string{"cert", "key"} {
			p, v := co.String(k, "")
			if v == nil {
				co.problem(nil, k, "is required (a PEM file, relative to the config file)")
				continue
			}
			p = resolvePath(p, file)
			if f, err := os.Open(p); err != nil {
				co.problem(v, k, "cannot read %s: %v", p, unwrapPathError(err))
			} else {
				f.Close()
			}
			if k == "cert" {
				c.Cert = p
			} else {
				c.Key = p
			}
		}
		co.Done()
		t.Certs = append(t.Certs, c)
	}
	if cv == nil || (cv.kind == kArray && len(cv.arr) == 0) {
		o.problem(cv, "certificates", "at least one is needed (certificates = [{ cert = \"web.pem\", key = \"web.key\" }])")
	}
	return t
}

func decodeRoute(o *obj, i int, l *Proxy, refs proxyRefs) ProxyRoute {
	defer o.Done()
	r := ProxyRoute{Line: o.pos.line, Percent: 100}
	if h, hv := o.String("host", ""); hv != nil {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if !validHostPattern(h) {
			o.problem(hv, "host", "%q is not a host name or a wildcard such as \"*.example.com\"", h)
		}
		r.Host = h
	}
	if p, pv := o.String("path", ""); pv != nil {
		if !strings.HasPrefix(p, "/") || strings.Contains(strings.TrimSuffix(p, "*"), "*") {
			o.problem(pv, "path", "%q is not a path such as \"/api\" (exact) or \"/v2/*\" (prefix)", p)
		}
		r.Path = p
	}
	if h, hv := o.String("header", ""); hv != nil {
		name, _, _ := strings.Cut(h, ":")
		if !isToken(strings.TrimSpace(name)) {
			o.problem(hv, "header", "%q is not \"Name: value\" or \"Name\"", h)
		}
		r.Header = h
	}
	if pct, pv := o.Float("percent", 100, 0, 100); pv != nil {
		if pct <= 0 {
			o.problem(pv, "percent", "must be above 0 (a route with 0%% never matches)")
		}
		r.Percent = pct
	}
	r.Pool, r.Port, r.Backends = decodeBackendSource(o, refs, false)
	if r.Pool != "" && r.Port == 0 {
		r.Port = l.Port
		if r.Port == 0 && o.t.m["port"] == nil {
			o.problem(o.t.m["pool"], "port", "is required with pool (the port of the pool's endpoints to connect to)")
		}
	}
	if o.t.m["pool"] == nil && o.t.m["backends"] == nil {
		o.problem(nil, "pool", "route %d needs a pool (pool = \"NAME\", port = N) or backends = [...]", i)
	}
	r.Algorithm, _ = o.Word("algorithm", l.Algorithm, Algorithms...)
	r.HashKey = decodeHashKey(o, l.Mode, r.Algorithm, l.HashKey)
	return r
}

// decodeBackendSource reads pool + port or backends: exactly one of them (on a listener;
// on a route the caller checks it, as a route's port defaults to the listener's).
func decodeBackendSource(o *obj, refs proxyRefs, listener bool) (string, uint16, []ProxyBackend) {
	pool, pv := o.String("pool", "")
	port, portv := o.Int("port", 0, 1, 65535)
	var backends []ProxyBackend
	bv := o.t.m["backends"]
	for _, bo := range o.Tables("backends") {
		b := ProxyBackend{Weight: 1, Line: bo.pos.line}
		a, av := bo.String("address", "")
		w, _ := bo.Int("weight", 1, 1, 65535)
		b.Weight = int(w)
		bo.Done()
		ap, err := netip.ParseAddrPort(a)
		switch {
		case av == nil:
			bo.problem(nil, "address", "is required: ip:port (e.g. \"127.0.0.1:9001\")")
		case err != nil || ap.Port() == 0:
			bo.problem(av, "address", "%q is not an ip:port address such as \"127.0.0.1:9001\"", a)
		case slices.ContainsFunc(backends, func(x ProxyBackend) bool { return x.Addr == ap }):
			bo.problem(av, "address", "%s is listed twice", ap)
		default:
			b.Addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
			backends = append(backends, b)
		}
	}
	switch {
	case pv != nil && bv != nil:
		o.problem(bv, "backends", "give either pool or backends, not both")
	case pv != nil:
		if pl, ok := findPool(refs.pools, pool); !ok {
			o.problem(pv, "pool", "%s", undefined("pool", pool, poolNames(refs.pools)))
			pool = ""
		} else if !slices.ContainsFunc(pl.Endpoints, func(e Endpoint) bool { return e.Enabled }) {
			o.problem(pv, "pool", "pool %q has no enabled endpoint", pool)
		}
		if listener && portv == nil && o.t.m["port"] == nil {
			o.problem(pv, "port", "is required with pool (the port of the pool's endpoints to connect to)")
		}
	case bv != nil:
		if portv != nil {
			o.problem(portv, "port", "is for pool backends; explicit backends carry their own ports")
		}
		if bv.kind == kArray && len(bv.arr) == 0 {
			o.problem(bv, "backends", "at least one backend is needed")
		}
	case listener:
		o.problem(nil, "pool", "a listener needs a pool (pool = \"NAME\", port = N) or backends = [{ address = \"127.0.0.1:9001\" }]")
	}
	return pool, uint16(port), backends
}

// decodeHashKey reads hash_key: "ip", "header:NAME", "cookie:NAME" or "path".
func decodeHashKey(o *obj, mode, algorithm, def string) string {
	k, v := o.String("hash_key", def)
	if v == nil {
		return def
	}
	kind, name, hasName := strings.Cut(k, ":")
	switch {
	case algorithm != "ip_hash" && algorithm != "consistent_hash":
		o.problem(v, "hash_key", "is used only by ip_hash and consistent_hash (algorithm is %q)", algorithm)
	case (kind == "ip" || kind == "path") && !hasName, (kind == "header" || kind == "cookie") && isToken(name):
		if mode == ModeTCP && kind != "ip" {
			o.problem(v, "hash_key", "%q needs an http listener; tcp listeners hash the client ip", k)
		}
	default:
		o.problem(v, "hash_key", "%q is not ip, path, header:NAME or cookie:NAME", k)
	}
	return k
}

// isToken reports whether s is a non-empty HTTP token (header or cookie name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return false
		}
	}
	return true
}

// validHostPattern accepts a host name, optionally with a leading "*." wildcard label.
func validHostPattern(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func findPool(pools []Pool, name string) (Pool, bool) {
	for _, p := range pools {
		if p.Name == name {
			return p, true
		}
	}
	return Pool{}, false
}

func poolNames(pools []Pool) []string {
	var out []string
	for _, p := range pools {
		out = append(out, p.Name)
	}
	return out
}

func monitorNames(ms []Monitor) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func regionNames(rs []Region) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}
