package l4

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

const (
	// copyBuf is the pooled buffer per direction for the read/write path (HAProxy's bufsize).
	copyBuf = 16 << 10
	// bulkReads consecutive reads that fill the buffer switch a direction to splice.
	bulkReads = 4
	// spliceChunk is how much one ReadFrom may move before the byte count is updated.
	spliceChunk = 4 << 20
	// maxSpliceWait bounds how long a splice may wait for more data before the direction
	// falls back to read/write (and the idle sweeper learns about the bytes moved).
	maxSpliceWait = time.Second
)

// copy moves src to dst until src's end (nil) or an error, adding the bytes moved to n.
//
// Request/response traffic is a read and a write per message through a pooled buffer: for
// small messages that is as many syscalls as splice (which needs two per chunk, via a pipe)
// and less kernel work. Once bulkReads reads in a row fill the buffer the direction is
// streaming, and it switches to splice(2), zero-copy, until the stream pauses.
//
// Each wait for data costs one read that returns EAGAIN. Skipping it after a short read (as
// HAProxy does) saves a third of the syscalls per round trip, but is only safe with the
// EPOLLRDHUP flag, which Go's poller does not expose: a FIN queued behind the data raises no
// new readiness edge and the half-close would hang. So the plain Read stays.
func (s *Server) copy(dst, src *net.TCPConn, n *atomic.Int64) error {
	if s.spliceOnly {
		_, err := s.splice(dst, src, n)
		return err
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	buf := *bp
	full := 0
	for {
		k, err := src.Read(buf)
		if k > 0 {
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return werr
			}
			n.Add(int64(k))
			if k < len(buf) {
				full = 0
			} else if full++; full >= bulkReads {
				full = 0
				eof, err := s.splice(dst, src, n)
				if err != nil || eof {
					return err
				}
			}
		}
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// splice moves src to dst with splice(2) in chunks until src ends (eof), an error, or, unless
// the server is splice-only, no byte arrives for the splice wait: then it returns to the
// read/write loop with neither.
func (s *Server) splice(dst, src *net.TCPConn, n *atomic.Int64) (eof bool, err error) {
	wait := min(s.o.IdleTimeout/4, maxSpliceWait)
	lr := io.LimitedReader{R: src}
	for {
		lr.N = spliceChunk
		if err := src.SetReadDeadline(time.Now().Add(wait)); err != nil {
			return false, err
		}
		w, err := dst.ReadFrom(&lr) // *TCPConn from *io.LimitedReader{*TCPConn}: splice(2)
		n.Add(w)
		s.spliced.Add(w)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			if s.spliceOnly {
				continue
			}
			return false, src.SetReadDeadline(time.Time{})
		case err != nil:
			return false, err
		case lr.N > 0:
			return true, nil
		}
	}
}
