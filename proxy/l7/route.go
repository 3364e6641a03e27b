package l7

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

// request is what routing and backend choice read of a request, whichever engine parsed it.
// Strings returned may alias the engine's buffers: valid only while the request is handled.
type request interface {
	host() string    // the Host header (or authority), port included
	reqPath() string // the path, without the query
	header(name string) (string, bool)
	cookie(name string) (string, bool)
	clientIP() string
}

// hashKind says where a keyed selector's key comes from.
type hashKind uint8

const (
	hashIP hashKind = iota
	hashHeader
	hashCookie
	hashPath
)

func parseHashKey(k string) (hashKind, string, error) {
	switch {
	case k == "" || k == "ip":
		return hashIP, "", nil
	case k == "path":
		return hashPath, "", nil
	case strings.HasPrefix(k, "header:") && len(k) > len("header:"):
		return hashHeader, k[len("header:"):], nil
	case strings.HasPrefix(k, "cookie:") && len(k) > len("cookie:"):
		return hashCookie, k[len("cookie:"):], nil
	}
	return 0, "", fmt.Errorf("hash key %q: want ip, path, header:NAME or cookie:NAME", k)
}

// route is a Route compiled for matching, with the backends' connection pools beside them.
type route struct {
	r *Route

	host     string // lower case; for a wildcard the suffix with its dot (".example.com")
	wildcard bool
	path     string
	prefix   bool
	hdrName  string
	hdrValue string
	hdrAny   bool // header present is enough
	share    float64

	key     hashKind
	keyName string

	// bs are r.Backends, then the backends of each of r.Spill's tiers (first[i] is where
	// tier i starts): pick's index is into bs.
	bs        []*balance.Upstream
	first     []int
	pools     []*connPool // parallel to bs
	stickyIDs []string    // parallel to bs: the cookie value naming each
}

// table is one generation of routes; requests keep the table they started with.
type table struct{ routes []*route }

func compileRoute(r *Route, poolFor func(*balance.Upstream) *connPool) *route {
	c := &route{r: r, host: strings.ToLower(r.Host), path: r.Path, share: r.Percent / 100}
	if strings.HasPrefix(c.host, "*.") {
		c.host, c.wildcard = c.host[1:], true
	}
	if strings.HasSuffix(c.path, "*") {
		c.path, c.prefix = c.path[:len(c.path)-1], true
	}
	if r.Header != "" {
		name, value, ok := strings.Cut(r.Header, ":")
		c.hdrName, c.hdrValue, c.hdrAny = strings.TrimSpace(name), strings.TrimSpace(value), !ok
	}
	if c.share >= 1 {
		c.share = 0
	}
	c.key, c.keyName, _ = parseHashKey(r.HashKey)
	c.bs = r.Backends
	if r.Spill != nil {
		c.bs = slices.Clone(r.Backends)
		for _, t := range r.Spill.Tiers() {
			c.first = append(c.first, len(c.bs))
			c.bs = append(c.bs, t.Backends...)
		}
	}
	c.pools = make([]*connPool, len(c.bs))
	c.stickyIDs = make([]string, len(c.bs))
	for i, u := range c.bs {
		c.pools[i] = poolFor(u)
		c.stickyIDs[i] = stickyID(u)
	}
	return c
}

// match reports whether req takes route c (the percentage included).
func (c *route) match(req request) bool {
	if c.host != "" && !hostMatch(c.host, c.wildcard, req.host()) {
		return false
	}
	if c.path != "" {
		p := req.reqPath()
		if c.prefix && !strings.HasPrefix(p, c.path) || !c.prefix && p != c.path {
			return false
		}
	}
	if c.hdrName != "" {
		v, ok := req.header(c.hdrName)
		if !ok || !c.hdrAny && v != c.hdrValue {
			return false
		}
	}
	return c.share == 0 || rand.Float64() < c.share
}

// hostMatch compares a request's host, port stripped, with a lower-case pattern.
func hostMatch(pattern string, wildcard bool, host string) bool {
	host = stripPort(host)
	if wildcard {
		return len(host) > len(pattern) && strings.EqualFold(host[len(host)-len(pattern):], pattern)
	}
	return strings.EqualFold(host, pattern)
}

func stripPort(host string) string {
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i > 0 {
			return host[1:i]
		}
		return host
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ':') == i {
		return host[:i]
	}
	return host
}

// find returns the first route req takes, or nil.
func (t *table) find(req request) *route {
	for _, c := range t.routes {
		if c.match(req) {
			return c
		}
	}
	return nil
}

// hashKey is the selector key for req under c.
func (c *route) hashKey(req request) string {
	switch c.key {
	case hashHeader:
		if v, ok := req.header(c.keyName); ok {
			return v
		}
	case hashCookie:
		if v, ok := req.cookie(c.keyName); ok {
			return v
		}
	case hashPath:
		return req.reqPath()
	}
	return req.clientIP()
}
