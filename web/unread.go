package web

import (
	"io"
	"net/http"
	"strconv"
	"time"
)

// closeUnread makes a reply to a request whose body the handler did not read to the end (a
// refusal before reading: no token, too large, malformed) close the connection. Otherwise
// net/http would read on to keep the connection alive, and a client sending its body a byte a
// second would hold the connection until the read timeout.
func closeUnread(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		b := &trackedBody{ReadCloser: r.Body}
		r.Body = b
		uw := &unreadWriter{ResponseWriter: w, body: b}
		next.ServeHTTP(uw, r)
		uw.release(true)
		if uw.wroteHeader && !b.done {
			hangUp(w)
		}
	})
}

// hangUp sends the reply written so far and closes the connection without reading on: even
// with Connection: close, net/http would read up to 256 KiB of the body left after the handler.
// The close is a FIN first, then the socket shortly after, so that the client's kernel does
// not throw the reply away on a reset while the client is still sending.
func hangUp(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	conn, _, err := rc.Hijack()
	if err != nil {
		return // HTTP/2, or a test recorder: nothing to hang up
	}
	if tc, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	go func() {
		_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, _ = io.Copy(io.Discard, io.LimitReader(conn, 1<<20))
		conn.Close()
	}()
}

// trackedBody notes when its reader has reached the end.
type trackedBody struct {
	io.ReadCloser
	done bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.done = true
	}
	return n, err
}

// maxHeldReply bounds the reply unreadWriter holds back to give it a Content-Length.
const maxHeldReply = 64 << 10

// unreadWriter sets Connection: close on a reply begun before the request's body was read to
// its end, and holds that reply back until the handler returns (or it grows past
// maxHeldReply, or the handler flushes) to send it with a Content-Length: net/http would
// chunk it, and the hang-up would cut the chunked body short of its last chunk.
type unreadWriter struct {
	http.ResponseWriter
	body        *trackedBody
	wroteHeader bool
	held        bool // the status and body below are not passed on yet
	code        int
	buf         []byte
}

func (w *unreadWriter) WriteHeader(code int) {
	if w.wroteHeader {
		if !w.held {
			w.ResponseWriter.WriteHeader(code) // net/http logs the superfluous call
		}
		return
	}
	w.wroteHeader = true
	if w.body.done {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.Header().Set("Connection", "close")
	w.held, w.code = true, code
}

func (w *unreadWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.held {
		return w.ResponseWriter.Write(p)
	}
	if len(w.buf)+len(p) <= maxHeldReply {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	if err := w.release(false); err != nil {
		return 0, err
	}
	return w.ResponseWriter.Write(p)
}

// release passes a held reply on, with its length when it is whole (the handler returned).
func (w *unreadWriter) release(whole bool) error {
	if !w.held {
		return nil
	}
	w.held = false
	bodyAllowed := w.code >= 200 && w.code != http.StatusNoContent && w.code != http.StatusNotModified
	if whole && bodyAllowed && w.Header().Get("Content-Length") == "" && w.Header().Get("Transfer-Encoding") == "" {
		w.Header().Set("Content-Length", strconv.Itoa(len(w.buf)))
	}
	w.ResponseWriter.WriteHeader(w.code)
	b := w.buf
	w.buf = nil
	if len(b) == 0 {
		return nil
	}
	_, err := w.ResponseWriter.Write(b)
	return err
}

// FlushError sends a held reply before flushing, for http.ResponseController.
func (w *unreadWriter) FlushError() error {
	if err := w.release(false); err != nil {
		return err
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *unreadWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
