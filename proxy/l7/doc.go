// Package l7 is the local HTTP proxy: one listener, its routes and the backends behind them.
//
// HTTP/1.1 (cleartext, and TLS connections that negotiate http/1.1 or no ALPN) is served by
// a small engine of its own: one goroutine per client connection, pooled buffers, a request
// head parsed into a reusable struct, and keep-alive connections to each backend kept in a
// LIFO pool, so that a request in the steady state costs four system calls and no
// allocations; on a single P the goroutine yields between sending a request and reading
// the answer, which under load usually saves a failed read and a wake-up (yieldForAnswer).
//
// Cleartext HTTP/1.1 on Linux runs, by default, on the loop engine instead (Options.Engine
// "loop"; "go" picks the engine above): accept stays in Go, and each accepted descriptor
// leaves the netpoller for one of the listener's event loops (loop_linux.go), a goroutine
// asleep in epoll_pwait as a raw system call, holding its P (as proxy/l4's loops do: the
// process needs Loops() more GOMAXPROCS). Per connection a state machine (hconn_linux.go,
// exchange_linux.go, forward_linux.go) reads the client into a 16 KiB buffer, parses a
// complete head with the same parser, routes and picks with the same code, and relays
// request and response from the buffer they landed in: bodies by Content-Length countdown
// or an incremental chunk parser (chunk.go), framing passed on as it came; a side whose
// peer does not take the bytes (EPOLLOUT pending) is not read, so memory stays at two
// buffers per connection. Backend keep-alive connections are loop-local LIFO pools; a
// connect is non-blocking. Timeouts are deadlines the loop scans when the earliest is due
// (at least every 250 ms, with the drain sweep). The go engine's differences that remain:
// a close-delimited response is copied to frame it as chunks, and idle backend connections
// of a backend removed by SetRoutes live until they idle out.
//
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
