package dnstap

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	framestream "github.com/farsightsec/golang-framestream"
)

// writer is a Frame Streams output over a file or a socket.
type writer interface {
	WriteFrame(b []byte) (int, error)
	Flush() error
	Close() error
}

// ioTimeout bounds every socket write and the handshake's reads: a collector that stops
// reading costs the buffer, never the writer goroutine for good.
const ioTimeout = 5 * time.Second

// newWriter is golang-dnstap's Writer (dnstap.NewWriter), built on framestream directly for
// the Flush that interface lacks.
func newWriter(w io.Writer, bidirectional bool) (*framestream.Writer, error) {
	return framestream.NewWriter(w, &framestream.WriterOptions{
		ContentTypes: [][]byte{dnstap.FSContentType}, Bidirectional: bidirectional, Timeout: ioTimeout,
	})
}

// fileWriter is a unidirectional Frame Streams file behind a large buffer.
type fileWriter struct {
	f  *os.File
	bw *bufio.Writer
	fw *framestream.Writer
}

func openFile(path string) (*fileWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("dnstap file: %w", err)
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	fw, err := newWriter(bw, false) // the start frame, content type protobuf:dnstap.Dnstap
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("dnstap file %s: %w", path, err)
	}
	return &fileWriter{f: f, bw: bw, fw: fw}, nil
}

func (w *fileWriter) WriteFrame(b []byte) (int, error) { return w.fw.WriteFrame(b) }

func (w *fileWriter) Flush() error {
	if err := w.fw.Flush(); err != nil {
		return err
	}
	return w.bw.Flush()
}

// Close writes the stop frame, so a reader knows the file is whole, and closes the file.
func (w *fileWriter) Close() error {
	err := w.fw.Close() // the stop frame, flushed into bw
	if ferr := w.bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// sockWriter is a bidirectional Frame Streams session (READY, ACCEPT, START ... STOP, FINISH)
// with a collector on a Unix or TCP socket.
type sockWriter struct {
	c  net.Conn
	fw *framestream.Writer
}

func dialSocket(ctx context.Context, network, addr string) (*sockWriter, error) {
	d := net.Dialer{Timeout: ioTimeout}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	undo := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) }) // Close ends a stuck handshake
	fw, err := newWriter(c, true)
	undo()
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("frame streams handshake with %s: %w", addr, err)
	}
	return &sockWriter{c: c, fw: fw}, nil
}

func (w *sockWriter) WriteFrame(b []byte) (int, error) { return w.fw.WriteFrame(b) }
func (w *sockWriter) Flush() error                     { return w.fw.Flush() }

// Close sends the stop frame and waits (ioTimeout at most) for the collector's FINISH.
func (w *sockWriter) Close() error {
	err := w.fw.Close()
	if cerr := w.c.Close(); err == nil {
		err = cerr
	}
	return err
}

// run is the Tap's one consumer: it encodes and writes queued entries, flushes at least every
// flushEvery, keeps a socket connected, and on stop writes what is queued and closes.
func (t *Tap) run() {
	defer close(t.done)
	var enc encoder
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	pause := time.NewTimer(batchPause)
	defer pause.Stop()
	dirty, down := false, false
	var retryAt time.Time
	for {
		if t.w == nil && t.out.File == "" && !time.Now().Before(retryAt) {
			if err := t.connect(); err != nil {
				if !down {
					t.log.Warn("dnstap output unreachable; messages wait in the buffer, and are dropped once it is full", "err", err)
				}
				down, retryAt = true, time.Now().Add(retryEvery)
			} else {
				t.log.Info("dnstap output connected")
				down = false
			}
		}
		queue := t.queue
		if t.w == nil {
			queue = nil // not connected: leave the entries queued until we are
		}
		select {
		case e := <-queue:
			t.write(&enc, e)
			for len(t.queue) > 0 && t.w != nil { // only run receives: this never blocks
				t.write(&enc, <-t.queue)
			}
			dirty = true
			// Let the queue fill a little before the next wake-up: a parked writer woken by
			// every Send would cost the query path a thread wake-up per query.
			pause.Reset(batchPause)
			select {
			case <-pause.C:
			case <-t.ctx.Done():
			}
		case <-tick.C:
			if dirty && t.w != nil {
				if err := t.w.Flush(); err != nil {
					t.fail(err)
				}
				dirty = false
			}
		case <-t.ctx.Done():
			t.drain(&enc)
			return
		}
	}
}

func (t *Tap) connect() error {
	network, addr := "unix", t.out.Socket
	if t.out.Socket == "" {
		network, addr = "tcp", t.out.TCP.String()
	}
	w, err := dialSocket(t.ctx, network, addr)
	if err != nil {
		return err
	}
	t.w = w
	return nil
}

// write encodes e's messages and writes them, then frees e.
func (t *Tap) write(enc *encoder, e *Entry) {
	defer t.release(e)
	if t.w == nil {
		t.metrics.dropped.Add(float64(messages(e)))
		return
	}
	m := t.meta.Load()
	wantQ, wantR := t.Want()
	for _, query := range []bool{true, false} {
		if query && (!wantQ || len(e.Query) == 0) || !query && (!wantR || len(e.Response) == 0) {
			continue
		}
		frame, err := enc.encode(e, query, m)
		if err == nil {
			_, err = t.w.WriteFrame(frame)
		}
		if err != nil {
			t.metrics.dropped.Inc()
			t.fail(err)
			return
		}
		t.metrics.sent.Inc()
	}
}

// fail gives up the output after an error: a socket is dialled again; a file stays closed
// (its buffered writer cannot go on after an error) until a restart or a reload opens it anew.
func (t *Tap) fail(err error) {
	if t.out.File != "" {
		t.log.Error("dnstap file write failed; query logging is off until the node restarts or a reload changes [server.dnstap]", "err", err)
	} else {
		t.log.Warn("dnstap output write failed; reconnecting", "err", err)
	}
	_ = t.w.Close()
	t.w = nil
}

// release gives e back, without buffers grown for an unusually large message.
func (t *Tap) release(e *Entry) {
	const keep = 4096
	if cap(e.Query) > keep {
		e.Query = nil
	}
	if cap(e.Response) > keep {
		e.Response = nil
	}
	t.free <- e
}

// drain writes the entries queued at stop and closes the output.
func (t *Tap) drain(enc *encoder) {
	for len(t.queue) > 0 { // only run receives: this never blocks
		t.write(enc, <-t.queue)
	}
	if t.w != nil {
		if err := t.w.Close(); err != nil {
			t.log.Warn("dnstap output did not close cleanly", "err", err)
		}
		t.w = nil
	}
}
