package web

import (
	"io"
	"net/http"
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

type unreadWriter struct {
	http.ResponseWriter
	body        *trackedBody
	wroteHeader bool
}

func (w *unreadWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		if !w.body.done {
			w.Header().Set("Connection", "close")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *unreadWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *unreadWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
