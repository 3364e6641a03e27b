package l7

import (
	"errors"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

const maxResponseHead = 64 << 10

// outcome is how one attempt on a backend connection ended.
type outcome uint8

const (
	outDone      outcome = iota // a response went to the client (maybe cut short)
	outStale                    // a reused connection failed before any byte either way mattered
	outBackend                  // no response from the backend; nothing written to the client
	outTimeout                  // the backend was slower than BackendTimeout
	outClientErr                // the client failed while sending its body
)

// handle answers one parsed request and reports whether the connection may serve another.
func (c *clientConn) handle(start time.Time) bool {
	s, h := c.s, &c.req
	hasBody := h.chunked || h.contentLength > 0
	keep := !h.close && !hasBody // when answering without reading the body
	if s.lim != nil {
		if ok, wait := s.lim.allow(c.ip, start); !ok {
			s.m.rejected(rejRateLimit)
			c.writeError(429, !keep, wait)
			s.m.request("", 429, start, 0, 0)
			return keep
		}
	}
	rt := s.table.Load().find(c)
	if rt == nil {
		c.writeError(404, !keep, 0)
		s.m.request("", 404, start, 0, 0)
		return keep
	}
	return c.forward(rt, start)
}

// forward sends the request to a backend of rt, retrying elsewhere as allowed, and relays
// the response.
func (c *clientConn) forward(rt *route, start time.Time) bool {
	s, h := c.s, &c.req
	c.nc.SetDeadline(start.Add(s.o.IdleTimeout)) // reading the body, writing the response
	hasBody := h.chunked || h.contentLength > 0
	keepIfUnread := !h.close && !hasBody
	idem := idempotent(b2s(h.first[0]))
	retryEnd := start.Add(s.o.RetryTimeout)
	c.tried.n = 0
	attempts, freeRetry, sent100 := 0, true, false
	var failed bool // an attempt failed: answer 502 rather than 503 when none is left
	canRetry := func() bool {
		if attempts < s.o.Retries && time.Now().Before(retryEnd) {
			attempts++
			s.m.retry()
			return true
		}
		return false
	}
	for {
		p := rt.pick(c, &c.tried, s.o.MaxConnsPerBackend)
		if p.idx < 0 {
			code := 503
			switch {
			case failed:
				code = 502
			case p.capped:
				s.m.rejected(rejSpillCap)
			case p.full:
				s.m.rejected(rejBackendFull)
			default:
				s.m.rejected(rejNoBackend)
			}
			c.writeError(code, !keepIfUnread, 0)
			s.m.request("", code, start, 0, 0)
			return keepIfUnread
		}
		u, pool := rt.bs[p.idx], rt.pools[p.idx]
		dialTimeout := s.o.BackendTimeout
		if attempts > 0 || s.o.Retries > 0 {
			dialTimeout = min(dialTimeout, max(time.Until(retryEnd), 100*time.Millisecond))
		}
		bc, reused, err := pool.get(dialTimeout, !idem || hasBody)
		if err != nil {
			u.Release()
			c.fail(u)
			c.tried.add(u)
			failed = true
			s.o.Logger.Debug("backend connect failed", "backend", u.ID, "err", err)
			if canRetry() { // nothing was sent: safe for any method
				continue
			}
			c.writeError(502, !keepIfUnread, 0)
			s.m.request(u.ID, 502, start, 0, 0)
			return keepIfUnread
		}
		out, keep := c.exchange(rt, p, u, pool, bc, reused, start, &sent100)
		u.Release()
		switch out {
		case outDone:
			return keep
		case outClientErr:
			return false
		case outStale:
			if idem && !hasBody {
				if reused && freeRetry { // the backend closed an idle connection: not its fault
					freeRetry = false
					continue
				}
				c.tried.add(u)
				if canRetry() {
					continue
				}
			}
			c.fail(u)
		}
		code := 502
		if out == outTimeout {
			code = 504
		}
		c.writeError(code, true, 0)
		s.m.request(u.ID, code, start, 0, 0)
		return false
	}
}

// fail reports a failure of u to the outlier detector.
func (c *clientConn) fail(u *balance.Upstream) {
	u.Failed(c.s.o.Outlier) // OnEject counts the ejection
}

// exchange sends the request on bc and relays the response; keep says whether the client
// connection may serve another request.
func (c *clientConn) exchange(rt *route, p pickResult, u *balance.Upstream, pool *connPool,
	bc *backendConn, reused bool, start time.Time, sent100 *bool) (outcome, bool) {
	s, h := c.s, &c.req
	bc.nc.SetDeadline(time.Now().Add(s.o.BackendTimeout))
	upgrading := h.connUpgrade && len(h.upgrade) > 0
	bc.bw.Write(c.requestHead(u, upgrading))

	var in int64
	if h.chunked || h.contentLength > 0 {
		if h.expect100 && !*sent100 {
			*sent100 = true
			c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			if err := c.bw.Flush(); err != nil {
				pool.discard(bc)
				return outClientErr, false
			}
		}
		ka := &keepalive{r: c.nc, w: bc.nc, rd: s.o.IdleTimeout, wd: s.o.BackendTimeout, last: time.Now()}
		var e copyError
		if h.chunked {
			in, e = copyChunked(bc.bw, c.br, true, ka)
		} else {
			in, e = copyLength(bc.bw, c.br, h.contentLength, ka)
		}
		switch {
		case e.read != nil:
			pool.discard(bc)
			s.m.request(u.ID, 499, start, in, 0)
			return outClientErr, false
		case e.write != nil:
			pool.discard(bc)
			return outBackend, false
		}
	}
	if err := bc.bw.Flush(); err != nil {
		pool.discard(bc)
		return outStale, false
	}
	c.yieldForAnswer(bc)

	r := &c.resp
	for {
		if err := r.read(bc.br, maxResponseHead); err != nil {
			pool.discard(bc)
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				c.fail(u)
				return outTimeout, false
			case len(r.buf) == 0:
				return outStale, false // closed without a byte of answer: nothing was done
			}
			c.fail(u)
			return outBackend, false
		}
		if err := r.parse(true); err != nil {
			pool.discard(bc)
			c.fail(u)
			return outBackend, false
		}
		if r.status >= 200 || r.status == 101 {
			break
		}
		if h.minor == 1 && (r.status != 100 || !*sent100) { // relay 1xx news (103, ...)
			c.bw.Write(r.buf)
			*sent100 = *sent100 || r.status == 100
		}
	}
	if r.status >= 500 {
		c.fail(u)
	} else {
		u.Succeeded()
	}

	if r.status == 101 {
		if !upgrading {
			pool.discard(bc)
			return outBackend, false
		}
		c.bw.Write(c.responseHead(rt, p, bodyNone, false, true))
		if err := c.bw.Flush(); err == nil {
			c.tunnel(bc)
		}
		pool.discard(bc)
		s.m.request(u.ID, 101, start, in, 0)
		return outDone, false
	}

	mode := bodyNone
	switch {
	case b2s(h.first[0]) == "HEAD" || r.status == 204 || r.status == 304:
	case r.chunked:
		mode = bodyChunked
	case r.contentLength >= 0:
		mode = bodyLength
	default:
		mode = bodyToEOF
	}
	keep := !h.close && h.minor == 1 && !s.closing.Load()
	c.bw.Write(c.responseHead(rt, p, mode, keep, false))
	var out int64
	var e copyError
	ka := &keepalive{r: bc.nc, w: c.nc, rd: s.o.BackendTimeout, wd: s.o.IdleTimeout, last: time.Now()}
	chunkOut := h.minor == 1
	switch mode {
	case bodyLength:
		out, e = copyLength(c.bw, bc.br, r.contentLength, ka)
	case bodyChunked:
		out, e = copyChunked(c.bw, bc.br, chunkOut, ka)
	case bodyToEOF:
		out, e = copyToEOF(c.bw, bc.br, chunkOut, ka)
	}
	if e.ok() {
		e.write = c.bw.Flush()
	}
	if e.ok() && mode != bodyToEOF && !r.close {
		pool.put(bc, time.Now())
	} else {
		pool.discard(bc)
	}
	s.m.request(u.ID, r.status, start, in, out)
	return outDone, keep && e.ok()
}

// yieldForAnswer lets the other connections run while the backend prepares its answer,
// when the proxy runs on one P. Under load, by the time this goroutine runs again the
// answer is usually there, and the read that follows neither fails with EAGAIN nor parks
// the goroutine in the network poller: a system call and a wake-up saved per request
// (loopback benchmark, GOMAXPROCS=1: about +10% requests per CPU-second and a lower p99).
// Idle, the yield returns at once. With several Ps it is not done: the yielded goroutines
// keep the run queues busy and delay the network poller, whose parked goroutines then wait
// for the runtime's 10 ms background poll (p99 went from 5 to 7-12 ms in the same test).
func (c *clientConn) yieldForAnswer(bc *backendConn) {
	if c.yield && bc.br.Buffered() == 0 {
		runtime.Gosched()
	}
}

// Response body framings.
const (
	bodyNone = iota
	bodyLength
	bodyChunked
	bodyToEOF
)

// requestHead is the head sent to the backend: hop-by-hop headers removed, framing and the
// forwarding headers written by the proxy.
func (c *clientConn) requestHead(u *balance.Upstream, upgrading bool) []byte {
	h := &c.req
	b := c.out[:0]
	b = append(b, h.first[0]...)
	b = append(b, ' ')
	b = append(b, h.first[1]...)
	b = append(b, " HTTP/1.1\r\n"...)
	b = appendFields(b, h.hdrs)
	if h.host == nil {
		b = append(b, "Host: "...)
		b = append(b, u.Addr...)
		b = append(b, "\r\n"...)
	}
	switch {
	case h.chunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	case h.contentLength >= 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, h.contentLength, 10)
		b = append(b, "\r\n"...)
	}
	if upgrading {
		b = append(b, "Connection: Upgrade\r\nUpgrade: "...)
		b = append(b, h.upgrade...)
		b = append(b, "\r\n"...)
	}
	b = appendXFF(b, h.xff, c.ip)
	b = append(b, "X-Forwarded-Proto: "...)
	b = append(b, c.proto...)
	b = append(b, "\r\n"...)
	if len(c.auth) > 0 {
		b = append(b, "X-Forwarded-Host: "...)
		b = append(b, c.auth...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "Forwarded: "...)
	if len(h.fwd) > 0 {
		b = append(b, h.fwd...)
		b = append(b, ", "...)
	}
	b = appendForwardedElem(b, c.ip, c.proto, b2s(c.auth))
	b = append(b, "\r\n\r\n"...)
	c.out = b
	return b
}

// responseHead is the head sent to the client for the backend's response in c.resp.
func (c *clientConn) responseHead(rt *route, p pickResult, mode int, keep, upgrade bool) []byte {
	r := &c.resp
	b := c.out[:0]
	b = append(b, "HTTP/1.1 "...)
	b = append(b, r.first[1]...)
	b = append(b, ' ')
	b = append(b, r.first[2]...)
	b = append(b, "\r\n"...)
	b = appendFields(b, r.hdrs)
	switch {
	case mode == bodyLength || mode == bodyNone && r.contentLength >= 0:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, r.contentLength, 10)
		b = append(b, "\r\n"...)
	case (mode == bodyChunked || mode == bodyToEOF) && c.req.minor == 1:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	if p.setCookie && rt.r.Sticky != nil {
		b = appendSetCookie(b, rt.r.Sticky, rt.stickyIDs[p.idx])
	}
	switch {
	case upgrade:
		b = append(b, "Connection: Upgrade\r\nUpgrade: "...)
		b = append(b, r.upgrade...)
		b = append(b, "\r\n"...)
	case !keep:
		b = append(b, "Connection: close\r\n"...)
	}
	b = append(b, "\r\n"...)
	c.out = b
	return b
}

func appendFields(b []byte, fs []field) []byte {
	for i := range fs {
		if f := &fs[i]; !f.drop {
			b = append(b, f.name...)
			b = append(b, ": "...)
			b = append(b, f.value...)
			b = append(b, "\r\n"...)
		}
	}
	return b
}
