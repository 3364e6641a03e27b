// Package l7 is the local HTTP proxy: one listener, its routes and the backends behind them.
//
// HTTP/1.1 (cleartext, and TLS connections that negotiate http/1.1 or no ALPN) is served by
// a small engine of its own: one goroutine per client connection, pooled buffers, a request
// head parsed into a reusable struct, and keep-alive connections to each backend kept in a
// LIFO pool, so that a request in the steady state costs four system calls and no
// allocations; on a single P the goroutine yields between sending a request and reading
// the answer, which under load usually saves a failed read and a wake-up (yieldForAnswer).
// HTTP/2 clients (TLS with ALPN h2) are served by net/http and
// httputil.ReverseProxy. Both paths share the decisions: routing (route.go), backend choice,
// stickiness and per-backend limits (pick.go, sticky.go), rate limiting (ratelimit.go) and
// the forwarding headers (forwarded.go).
//
// The package does not probe backends and does not own them: the caller builds the
// [balance.Upstream] values, keeps them across reloads and sets their health and draining
// state. The listener only reads [balance.Upstream.Available], counts requests in flight and
// reports passive failures (connect errors, 5xx) to the outlier detector.
package l7
