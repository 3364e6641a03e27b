//go:build linux

package l7

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// smallBody is how much of a body already read goes out in the same write as its head.
const smallBody = 8 << 10

// beginExchange sends the request head (and what of a small body is there) on c.bc.
func (c *hconn) beginExchange() {
	h, s := &c.cc.req, c.l.s
	c.state = stExchange
	c.cc.out = c.reqOut[:0]
	c.reqOut = c.cc.requestHead(c.u, c.upgrading)
	c.bw = c.reqOut
	c.reqDone = !c.hasBody
	c.bodyLeft = max(h.contentLength, 0)
	c.reqChunk.reset()
	c.respHead, c.gotByte, c.respDone, c.keep = false, false, false, false
	if c.hasBody && h.expect100 && !c.sent100 {
		c.sent100 = true
		c.respOut = append(c.respOut[:0], "HTTP/1.1 100 Continue\r\n\r\n"...)
		c.cw = c.respOut
	}
	if !h.chunked && c.bodyLeft > 0 {
		k := min(int64(c.clen-c.coff), c.bodyLeft)
		if len(c.bw)+int(k) <= smallBody {
			c.reqOut = append(c.reqOut, c.cin[c.coff:c.coff+int(k)]...)
			c.bw = c.reqOut
			c.coff += int(k)
			c.bodyLeft -= k
			c.in += k
			c.reqDone = c.bodyLeft == 0
		}
	}
	c.l.setDeadline(c, s.o.BackendTimeout)
}

// stepExchange moves the request one way and the response the other.
func (c *hconn) stepExchange() bool {
	progress := false
	// request: head and body to the backend
	switch c.flushBackend() {
	case ioErr:
		c.backendBroken()
		return true
	case ioDone:
		if !c.reqDone && c.coff < c.clen {
			c.takeBody()
			progress = true
		} else if !c.reqDone {
			switch c.readClient(len(c.cin)) {
			case ioDone:
				progress = true
			case ioErr, ioEOF:
				c.l.s.m.request(c.u.ID, 499, c.start, c.in, 0)
				c.abort()
				return false
			}
		}
	}
	if c.fd < 0 || c.state != stExchange {
		return progress
	}
	if progress {
		c.l.setDeadline(c, c.l.s.o.BackendTimeout)
	}
	// response: from the backend to the client
	switch c.flushClient() {
	case ioErr:
		if c.respHead {
			c.l.s.m.request(c.u.ID, c.cc.resp.status, c.start, c.in, c.out)
		}
		c.abort()
		return false
	case ioAgain:
		return progress
	}
	if c.respDone {
		if c.reqDone || c.respHead {
			c.finish()
			return true
		}
		return progress
	}
	if c.boff < c.blen {
		if !c.respHead {
			return c.responseHead() || progress
		}
		c.takeResponse()
		return true
	}
	switch c.readBackend(maxResponseHead) {
	case ioDone:
		c.gotByte = true
		c.l.setDeadline(c, c.l.s.o.BackendTimeout)
		return true
	case ioAgain:
		return progress
	case ioEOF:
		switch {
		case c.respHead && c.mode == bodyRaw:
			c.respDone = true
			return true
		case c.respHead && c.mode == bodyToEOF:
			c.respOut = append(c.respOut[:0], "0\r\n\r\n"...)
			c.cw = c.respOut
			c.respDone = true
			return true
		}
	}
	c.backendBroken()
	return true
}

// takeBody moves request body bytes from cin to bw.
func (c *hconn) takeBody() {
	avail := c.cin[c.coff:c.clen]
	if !c.cc.req.chunked {
		k := min(int64(len(avail)), c.bodyLeft)
		c.bw = avail[:k]
		c.coff += int(k)
		c.in += k
		c.bodyLeft -= k
		c.reqDone = c.bodyLeft == 0
		return
	}
	t := 0
	for t < len(avail) && !c.reqChunk.done() {
		n, data, err := c.reqChunk.step(avail[t:])
		if err != nil {
			c.l.s.m.rejected(rejBadRequest)
			c.abort()
			return
		}
		if data {
			c.in += int64(n)
		}
		t += n
	}
	c.bw = avail[:t]
	c.coff += t
	c.reqDone = c.reqChunk.done()
}

// backendBroken ends an exchange whose backend connection failed: retried elsewhere when
// nothing of the answer came and the request may be sent again, else a 502, or the client
// connection closed when part of the response went out.
func (c *hconn) backendBroken() {
	u := c.u
	if c.respHead || c.out > 0 {
		c.l.s.m.request(u.ID, c.cc.resp.status, c.start, c.in, c.out)
		c.abort()
		return
	}
	c.closeBackendConn()
	if !c.gotByte && c.idem && !c.hasBody {
		if c.reused && c.freeRetry { // the backend closed an idle connection: not its fault
			c.freeRetry = false
			c.releaseUpstream()
			c.tryBackend()
			return
		}
		c.cc.tried.add(u)
		if c.canRetry() {
			c.releaseUpstream()
			c.tryBackend()
			return
		}
	}
	c.fail(u)
	c.releaseUpstream()
	c.respond(502, false, 0, u.ID)
}

// responseHead parses a response head in bin; false when more bytes are needed.
func (c *hconn) responseHead() bool {
	s, h, r := c.l.s, &c.cc.req, &c.cc.resp
	c.boff = skipBlank(c.bin, c.boff, c.blen)
	e := headEnd(c.bin[c.boff:c.blen])
	if e < 0 {
		if c.blen-c.boff >= maxResponseHead {
			c.fail(c.u)
			c.backendBrokenHard()
			return true
		}
		return false
	}
	hs := c.boff
	r.buf = c.bin[hs : hs+e]
	c.boff += e
	if err := r.parse(true); err != nil {
		c.fail(c.u)
		c.backendBrokenHard()
		return true
	}
	if r.status < 200 && r.status != 101 {
		if h.minor == 1 && (r.status != 100 || !c.sent100) { // relay 1xx news (103, ...)
			c.cw = r.buf
			c.sent100 = c.sent100 || r.status == 100
		}
		return true
	}
	u := c.u
	if r.status >= 500 {
		c.fail(u)
	} else {
		u.Succeeded()
	}
	c.respHead = true
	if r.status == 101 {
		if !c.upgrading {
			c.backendBrokenHard()
			return true
		}
		c.cc.out = c.respOut[:0]
		c.respOut = c.cc.responseHead(c.rt, c.pk, bodyNone, false, true)
		c.cw = c.respOut
		s.m.request(u.ID, 101, c.start, c.in, 0)
		c.state = stTunnel
		c.cEOF, c.bEOF = false, false
		c.l.setDeadline(c, s.o.WebSocketIdleTimeout)
		return true
	}
	c.mode = bodyNone
	switch {
	case c.isHead || r.status == 204 || r.status == 304:
	case r.chunked:
		c.mode = bodyChunked
	case r.contentLength >= 0:
		c.mode = bodyLength
	case h.minor == 1:
		c.mode = bodyToEOF // to the backend's end of stream, as chunks
	default:
		c.mode = bodyRaw
	}
	c.keep = !h.close && h.minor == 1 && !s.closing.Load()
	c.cc.out = c.respOut[:0]
	c.respOut = c.cc.responseHead(c.rt, c.pk, c.mode, c.keep, false)
	c.respLeft = r.contentLength
	c.respChunk.reset()
	c.respDone = c.mode == bodyNone || c.mode == bodyLength && c.respLeft == 0
	if c.mode == bodyLength && !c.respDone {
		k := min(int64(c.blen-c.boff), c.respLeft)
		if len(c.respOut)+int(k) <= smallBody {
			c.respOut = append(c.respOut, c.bin[c.boff:c.boff+int(k)]...)
			c.boff += int(k)
			c.respLeft -= k
			c.out += k
			c.respDone = c.respLeft == 0
		}
	}
	c.cw = c.respOut
	return true
}

// backendBrokenHard answers 502 to a request whose backend gave a bad answer.
func (c *hconn) backendBrokenHard() {
	u := c.u
	c.closeBackendConn()
	c.releaseUpstream()
	c.respond(502, false, 0, u.ID)
}

// takeResponse moves response body bytes from bin to cw.
func (c *hconn) takeResponse() {
	avail := c.bin[c.boff:c.blen]
	switch c.mode {
	case bodyLength:
		k := min(int64(len(avail)), c.respLeft)
		c.cw = avail[:k]
		c.boff += int(k)
		c.out += k
		c.respLeft -= k
		c.respDone = c.respLeft == 0
	case bodyRaw:
		c.cw = avail
		c.boff = c.blen
		c.out += int64(len(avail))
	case bodyToEOF: // copied, to frame it as a chunk: a rare mode
		b := strconv.AppendInt(c.respOut[:0], int64(len(avail)), 16)
		b = append(b, "\r\n"...)
		b = append(b, avail...)
		c.respOut = append(b, "\r\n"...)
		c.cw = c.respOut
		c.boff = c.blen
		c.out += int64(len(avail))
	case bodyChunked:
		pass := c.cc.req.minor == 1 // as it came; an HTTP/1.0 client gets the data only
		t := 0
		for t < len(avail) && !c.respChunk.done() {
			n, data, err := c.respChunk.step(avail[t:])
			if err != nil {
				c.fail(c.u)
				c.l.s.m.request(c.u.ID, c.cc.resp.status, c.start, c.in, c.out)
				c.abort()
				return
			}
			if data {
				c.out += int64(n)
			}
			if pass {
				t += n
				continue
			}
			if !data {
				c.boff += n // framing dropped
				avail = avail[n:]
				continue
			}
			t = n
			break
		}
		c.cw = avail[:t]
		c.boff += t
		c.respDone = c.respChunk.done()
	}
}

// finish ends an exchange whose response went out: the backend connection goes back to the
// idle pool when it may serve another request, and c reads the next request or closes.
func (c *hconn) finish() {
	s, l, r := c.l.s, c.l, &c.cc.resp
	reusable := c.reqDone && c.mode != bodyRaw && c.mode != bodyToEOF && !r.close && c.boff == c.blen
	if reusable {
		l.putIdle(c.bc)
	} else {
		l.closeBackend(c.bc)
	}
	c.bc = nil
	u := c.u
	c.releaseUpstream()
	s.m.request(u.ID, r.status, c.start, c.in, c.out)
	if c.keep && c.reqDone { // even while shutting down: the answer promised keep-alive (see shutdown)
		c.state = stIdle
		l.setDeadline(c, s.o.IdleTimeout)
		return
	}
	c.state = stClosing
	l.setDeadline(c, s.o.IdleTimeout)
}

// stepTunnel relays bytes both ways after a 101.
func (c *hconn) stepTunnel() bool {
	progress := false
	switch c.flushBackend() {
	case ioErr:
		c.abort()
		return false
	case ioDone:
		switch {
		case c.coff < c.clen:
			c.bw = c.cin[c.coff:c.clen]
			c.coff = c.clen
			progress = true
		case !c.cEOF:
			switch c.readClient(len(c.cin)) {
			case ioDone:
				progress = true
			case ioEOF:
				c.cEOF = true
				unix.Shutdown(c.bc.fd, unix.SHUT_WR)
				progress = true
			case ioErr:
				c.abort()
				return false
			}
		}
	}
	switch c.flushClient() {
	case ioErr:
		c.abort()
		return false
	case ioDone:
		switch {
		case c.boff < c.blen:
			c.cw = c.bin[c.boff:c.blen]
			c.boff = c.blen
			progress = true
		case !c.bEOF:
			switch c.readBackend(len(c.bin)) {
			case ioDone:
				progress = true
			case ioEOF:
				c.bEOF = true
				unix.Shutdown(c.fd, unix.SHUT_WR)
				progress = true
			case ioErr:
				c.abort()
				return false
			}
		}
	}
	if c.cEOF && c.bEOF && len(c.cw) == 0 && len(c.bw) == 0 {
		c.abort()
		return false
	}
	if progress {
		c.l.setDeadline(c, c.l.s.o.WebSocketIdleTimeout)
	}
	return progress
}
