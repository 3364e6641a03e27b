package dnstap

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	framestream "github.com/farsightsec/golang-framestream"
)

// output is a Frame Streams stream over a file or a socket.
//
// The control frames (START and STOP, and on a socket the READY/ACCEPT handshake and the
// FINISH that answers STOP) are golang-framestream's Writer's. The data frames are not: the
// writer goroutine appends them (a 4-byte big-endian length, then the dnstap protobuf, see
// appendFrame) to its own large buffer and hands whole batches to Write, which saves the
// Writer's per-frame copy and its two allocations (binary.Write of the length). The Writer
// flushes its START frame before NewWriter returns and writes nothing until Close, so the
// frames written in between are ordered: START, data, STOP.
type output interface {
	// Write writes data frames, whole.
	Write(frames []byte) error
	// Close writes the stop frame (on a socket, waits for FINISH) and closes the file or socket.
	Close() error
}

// ioTimeout bounds every socket write and the handshake's reads: a collector that stops
// reading costs the buffer, never the writer goroutine for good.
const ioTimeout = 5 * time.Second

// newWriter is golang-dnstap's Writer (dnstap.NewWriter) on framestream directly: the content
// type protobuf:dnstap.Dnstap, the handshake, the START frame.
func newWriter(w io.Writer, bidirectional bool) (*framestream.Writer, error) {
	return framestream.NewWriter(w, &framestream.WriterOptions{
		ContentTypes: [][]byte{dnstap.FSContentType}, Bidirectional: bidirectional, Timeout: ioTimeout,
	})
}

// fileOutput is a unidirectional Frame Streams file.
type fileOutput struct {
	f  *os.File
	fw *framestream.Writer
}

func openFile(path string) (*fileOutput, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("dnstap file: %w", err)
	}
	fw, err := newWriter(f, false) // the start frame
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("dnstap file %s: %w", path, err)
	}
	return &fileOutput{f: f, fw: fw}, nil
}

func (o *fileOutput) Write(frames []byte) error {
	_, err := o.f.Write(frames)
	return err
}

// Close writes the stop frame, so a reader knows the file is whole, and closes the file.
func (o *fileOutput) Close() error {
	err := o.fw.Close()
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// sockOutput is a bidirectional Frame Streams session (READY, ACCEPT, START ... STOP, FINISH)
// with a collector on a Unix or TCP socket.
type sockOutput struct {
	c  net.Conn
	fw *framestream.Writer
}

func dialSocket(ctx context.Context, network, addr string) (*sockOutput, error) {
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
	return &sockOutput{c: c, fw: fw}, nil
}

func (o *sockOutput) Write(frames []byte) error {
	if err := o.c.SetWriteDeadline(time.Now().Add(ioTimeout)); err != nil {
		return err
	}
	_, err := o.c.Write(frames)
	return err
}

// Close sends the stop frame and waits (ioTimeout at most) for the collector's FINISH.
func (o *sockOutput) Close() error {
	err := o.fw.Close()
	if cerr := o.c.Close(); err == nil {
		err = cerr
	}
	return err
}
