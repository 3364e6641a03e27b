package l7

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/proxy/balance"
	"github.com/meridian-gslb/meridian/proxy/spill"
	"github.com/meridian-gslb/meridian/proxy/stats"
)

// Options configure one HTTP listener. Zero durations and sizes take the defaults noted.
type Options struct {
	Name   string // the listener's name ([proxy.NAME]): metrics label and log attribute
	Listen string // host:port to listen on (port 0 ok: see Addr)
	TLS    *TLS   // nil: cleartext HTTP/1.1
	Routes []*Route

	// HeaderTimeout bounds reading a request head (10s); IdleTimeout the wait for the next
	// request on a keep-alive connection (60s); BackendTimeout the wait for a backend's
	// response head and each read of its body (60s); WebSocketIdleTimeout an upgraded
	// connection with no bytes either way (10m).
	HeaderTimeout, IdleTimeout, BackendTimeout, WebSocketIdleTimeout time.Duration

	MaxHeaderBytes     int           // 0: 64 KiB; a bigger request head gets 431
	Retries            int           // extra attempts on another backend (see package doc); 0: none
	RetryTimeout       time.Duration // bound on the total time spent on attempts (0: 2s)
	RateLimit          RateLimit     // per client IP; Rate 0: none
	MaxConns           int           // client connections at once; 0: none
	MaxConnsPerBackend int64         // requests in flight per backend; 0: none
	DrainTimeout       time.Duration // 0: 30s
	Outlier            *balance.Outlier
	Feedback           ConnObserver
	Metrics            *stats.Metrics
	Logger             *slog.Logger
	// Engine runs cleartext HTTP/1.1: "go" the goroutine engine (a goroutine per client
	// connection over Go's netpoller); "loop" (Linux only) the event-loop engine, where Loops
	// goroutines each own an epoll set and serve every connection handed to them with
	// non-blocking system calls; "" is "loop" on Linux and "go" elsewhere. A TLS listener
	// always runs the go engine, whatever this says (Engine reports the one chosen).
	Engine string
	// Loops is the number of event loops of the loop engine (0: 1). A loop sleeps in epoll_pwait
	// as a raw system call and keeps its Go P meanwhile: give the process Loops() more
	// GOMAXPROCS than it would need otherwise.
	Loops int
	// HeldProcs, when set, is how many of the process's Go Ps are held by code that runs no
	// goroutines (the L4 event loops, asleep in the kernel). The engine yields before waiting
	// for a backend's answer when GOMAXPROCS minus these is 1 (see yieldForAnswer).
	HeldProcs func() int
}

// TLS terminates TLS on the listener.
type TLS struct {
	Certs      []CertFiles // PEM files; several: chosen by SNI (the leaf's names), first is the default
	MinVersion uint16      // 0: tls.VersionTLS12
}

// CertFiles names one certificate chain and its key, both PEM.
type CertFiles struct{ Cert, Key string }

// RateLimit is a token bucket per client IP.
type RateLimit struct {
	Rate  float64 // tokens per second per client IP
	Burst int     // bucket size (0: max(1, ceil(Rate)))
}

// Route sends the requests it matches to its backends. Empty match fields match anything.
type Route struct {
	Host     string  // exact (case-insensitive, port ignored) or "*.example.com" (one or more labels)
	Path     string  // "/v2/*" = prefix "/v2/"; otherwise exact path
	Header   string  // "X-Canary: 1" = header equals value; "X-Canary" = header present
	Percent  float64 // 0 (= 100): every matching request; else this share takes the route
	Backends []*balance.Upstream
	Selector balance.Selector
	HashKey  string  // keyed selectors: "ip" (default), "header:NAME", "cookie:NAME", "path"
	Sticky   *Sticky // nil: none
	// Spill takes the requests none of Backends can take, unless they carry a Meridian-Spill
	// header (a monitor asking for this region alone, or a request another proxy spilled);
	// nil: none.
	Spill *spill.Spill
}

// Sticky pins a client to a backend with a cookie.
type Sticky struct {
	Cookie string        // cookie name
	TTL    time.Duration // Max-Age of the cookie
}

// ConnObserver sees every accepted client connection once, just before it is closed.
type ConnObserver interface{ ObserveConn(c *net.TCPConn) }

// withDefaults returns o with its zero values filled in.
func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.HeaderTimeout, 10*time.Second)
	def(&o.IdleTimeout, 60*time.Second)
	def(&o.BackendTimeout, 60*time.Second)
	def(&o.WebSocketIdleTimeout, 10*time.Minute)
	def(&o.RetryTimeout, 2*time.Second)
	def(&o.DrainTimeout, 30*time.Second)
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	if o.RateLimit.Rate > 0 && o.RateLimit.Burst <= 0 {
		o.RateLimit.Burst = max(1, int(math.Ceil(o.RateLimit.Rate)))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Logger = o.Logger.With("component", "proxy/l7", "listener", o.Name)
	return o
}

// validate reports every problem with o at once.
func (o *Options) validate() error {
	var errs []error
	if o.Listen == "" {
		errs = append(errs, errors.New("listen address is empty"))
	}
	if o.Retries < 0 {
		errs = append(errs, fmt.Errorf("retries %d is negative", o.Retries))
	}
	if o.RateLimit.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate limit %g is negative", o.RateLimit.Rate))
	}
	switch o.Engine {
	case "", "go":
	case "loop":
		if !loopSupported {
			errs = append(errs, errors.New(`engine "loop" needs Linux`))
		}
	default:
		errs = append(errs, fmt.Errorf(`engine %q: want "", "go" or "loop"`, o.Engine))
	}
	if o.Loops < 0 {
		errs = append(errs, fmt.Errorf("loops %d is negative", o.Loops))
	}
	if o.TLS != nil && len(o.TLS.Certs) == 0 {
		errs = append(errs, errors.New("tls: no certificates"))
	}
	errs = append(errs, validateRoutes(o.Routes)...)
	return errors.Join(errs...)
}

func validateRoutes(routes []*Route) []error {
	var errs []error
	for i, r := range routes {
		if r == nil {
			errs = append(errs, fmt.Errorf("route %d is nil", i))
			continue
		}
		if r.Selector == nil {
			errs = append(errs, fmt.Errorf("route %d: no selector", i))
		}
		if r.Percent < 0 || r.Percent > 100 {
			errs = append(errs, fmt.Errorf("route %d: percent %g is outside 0..100", i, r.Percent))
		}
		if _, _, err := parseHashKey(r.HashKey); err != nil {
			errs = append(errs, fmt.Errorf("route %d: %w", i, err))
		}
		if r.Sticky != nil && (r.Sticky.Cookie == "" || strings.ContainsAny(r.Sticky.Cookie, "=;, \t")) {
			errs = append(errs, fmt.Errorf("route %d: sticky cookie name %q is not a token", i, r.Sticky.Cookie))
		}
		if strings.HasPrefix(r.Host, "*") && !strings.HasPrefix(r.Host, "*.") {
			errs = append(errs, fmt.Errorf("route %d: host %q: a wildcard must be a whole label", i, r.Host))
		}
	}
	return errs
}
