package l7

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"time"
)

// Bodies are streamed through the bufio buffers already attached to each connection: what
// the reader holds is written on with one copy, and nothing is buffered whole.

var errBadChunk = errors.New("malformed chunked body")

// copyError says which side of a copy failed.
type copyError struct {
	read, write error
}

func (e copyError) ok() bool { return e.read == nil && e.write == nil }

// fill makes src hold at least one byte. Before it blocks it flushes dst, so that what
// has come so far goes on instead of waiting for the rest.
func fill(dst *bufio.Writer, src *bufio.Reader) copyError {
	if src.Buffered() > 0 {
		return copyError{}
	}
	if err := dst.Flush(); err != nil {
		return copyError{write: err}
	}
	if _, err := src.Peek(1); err != nil {
		return copyError{read: err}
	}
	return copyError{}
}

// pump moves at most max bytes (max < 0: no limit) from what src holds, filling it first
// when it is empty, into dst.
func pump(dst *bufio.Writer, src *bufio.Reader, max int64) (int, copyError) {
	if e := fill(dst, src); !e.ok() {
		return 0, e
	}
	k := src.Buffered()
	if max >= 0 && int64(k) > max {
		k = int(max)
	}
	p, _ := src.Peek(k)
	n, err := dst.Write(p)
	src.Discard(n)
	return n, copyError{write: err}
}

// keepalive extends the deadlines of a long transfer: the reader's by rd, the writer's by wd.
type keepalive struct {
	r, w   net.Conn
	rd, wd time.Duration
	last   time.Time
}

func (k *keepalive) tick() {
	if k == nil {
		return
	}
	now := time.Now()
	if now.Sub(k.last) < time.Second {
		return
	}
	k.last = now
	k.r.SetReadDeadline(now.Add(k.rd))
	k.w.SetWriteDeadline(now.Add(k.wd))
}

// copyLength copies exactly n bytes; a short source is a read error.
func copyLength(dst *bufio.Writer, src *bufio.Reader, n int64, ka *keepalive) (int64, copyError) {
	var done int64
	for done < n {
		k, e := pump(dst, src, n-done)
		done += int64(k)
		if !e.ok() {
			if e.read == io.EOF {
				e.read = io.ErrUnexpectedEOF
			}
			return done, e
		}
		ka.tick()
	}
	return done, copyError{}
}

// copyToEOF copies until src ends, as chunks when chunk is set.
func copyToEOF(dst *bufio.Writer, src *bufio.Reader, chunk bool, ka *keepalive) (int64, copyError) {
	var done int64
	for {
		if e := fill(dst, src); e.read == io.EOF {
			break
		} else if !e.ok() {
			return done, e
		}
		if chunk {
			writeChunkHeader(dst, int64(src.Buffered()))
		}
		k, e := pump(dst, src, -1)
		done += int64(k)
		if !e.ok() {
			return done, e
		}
		if chunk {
			dst.WriteString("\r\n")
		}
		ka.tick()
	}
	if chunk {
		if _, err := dst.WriteString("0\r\n\r\n"); err != nil {
			return done, copyError{write: err}
		}
	}
	return done, copyError{}
}

// copyChunked decodes a chunked body from src and writes its data to dst, as chunks again
// when chunk is set. Trailers are read and dropped.
func copyChunked(dst *bufio.Writer, src *bufio.Reader, chunk bool, ka *keepalive) (int64, copyError) {
	var done int64
	for {
		if e := fill(dst, src); !e.ok() {
			if e.read == io.EOF {
				e.read = io.ErrUnexpectedEOF
			}
			return done, e
		}
		size, err := readChunkSize(src)
		if err != nil {
			return done, copyError{read: err}
		}
		if size == 0 {
			break
		}
		if chunk {
			writeChunkHeader(dst, size)
		}
		n, e := copyLength(dst, src, size, ka)
		done += n
		if !e.ok() {
			return done, e
		}
		if err := readCRLF(src); err != nil {
			return done, copyError{read: err}
		}
		if chunk {
			dst.WriteString("\r\n")
		}
	}
	for { // trailer section
		line, err := src.ReadSlice('\n')
		if err != nil {
			return done, copyError{read: err}
		}
		if isBlank(line) {
			break
		}
	}
	if chunk {
		if _, err := dst.WriteString("0\r\n\r\n"); err != nil {
			return done, copyError{write: err}
		}
	}
	return done, copyError{}
}

func writeChunkHeader(dst *bufio.Writer, n int64) {
	var b [20]byte
	dst.Write(append(strconv.AppendInt(b[:0], n, 16), '\r', '\n'))
}

func readChunkSize(src *bufio.Reader) (int64, error) {
	line, err := src.ReadSlice('\n')
	if err != nil {
		if err == io.EOF || err == bufio.ErrBufferFull {
			return 0, errBadChunk
		}
		return 0, err
	}
	line = trimCR(line[:len(line)-1])
	var n int64
	digits := 0
	for _, c := range line {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		case c == ';' || c == ' ' || c == '\t':
			if digits == 0 {
				return 0, errBadChunk
			}
			return n, nil // chunk extensions are ignored
		default:
			return 0, errBadChunk
		}
		if digits++; digits > 15 {
			return 0, errBadChunk
		}
		n = n<<4 | int64(d)
	}
	if digits == 0 {
		return 0, errBadChunk
	}
	return n, nil
}

func readCRLF(src *bufio.Reader) error {
	line, err := src.ReadSlice('\n')
	if err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	if !isBlank(line) {
		return errBadChunk
	}
	return nil
}
