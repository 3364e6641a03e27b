package l7

// chunkParser finds the end of a chunked body as it streams through, and which of its bytes
// are data, without buffering: the loop engine passes the framing on as it is (or drops it
// for an HTTP/1.0 client).
type chunkParser struct {
	state  uint8
	size   int64 // data left in the current chunk
	digits int
	line   int // bytes in the current extension or trailer line
}

const (
	chunkSize    = iota // reading the size's hex digits
	chunkExt            // after the size: an extension, up to the line's end
	chunkData           // size bytes of data
	chunkDataEnd        // the CRLF after the data
	chunkTrailer        // trailer lines, up to an empty one
	chunkDone
)

// maxChunkLine bounds an extension or trailer line, and the trailer section.
const maxChunkLine = 8 << 10

func (c *chunkParser) reset() { *c = chunkParser{} }

func (c *chunkParser) done() bool { return c.state == chunkDone }

// step consumes a prefix of p: n bytes that are all data (data true) or all framing. It
// consumes nothing only when p is empty or the body is done.
func (c *chunkParser) step(p []byte) (n int, data bool, err error) {
	if c.state == chunkData {
		n = len(p)
		if int64(n) > c.size {
			n = int(c.size)
		}
		if c.size -= int64(n); c.size == 0 {
			c.state = chunkDataEnd
		}
		return n, true, nil
	}
	for n < len(p) && c.state != chunkDone && c.state != chunkData {
		b := p[n]
		n++
		switch c.state {
		case chunkSize:
			switch d := unhex(b); {
			case d >= 0:
				if c.digits++; c.digits > 15 {
					return n, false, errBadChunk
				}
				c.size = c.size<<4 | int64(d)
			case c.digits == 0:
				return n, false, errBadChunk
			case b == '\n':
				c.endSize()
			default:
				c.state, c.line = chunkExt, 0
			}
		case chunkExt:
			if b == '\n' {
				c.endSize()
			} else if c.line++; c.line > maxChunkLine {
				return n, false, errBadChunk
			}
		case chunkDataEnd:
			switch b {
			case '\r':
			case '\n':
				c.state, c.digits, c.size = chunkSize, 0, 0
			default:
				return n, false, errBadChunk
			}
		case chunkTrailer:
			switch {
			case b == '\n' && c.line == 0:
				c.state = chunkDone
			case b == '\n':
				c.line = 0
			case b != '\r' || c.line > 0:
				if c.line++; c.line > maxChunkLine {
					return n, false, errBadChunk
				}
			}
		}
	}
	return n, false, nil
}

func (c *chunkParser) endSize() {
	if c.size == 0 {
		c.state, c.line = chunkTrailer, 0
		return
	}
	c.state = chunkData
}

func unhex(b byte) int {
	switch {
	case '0' <= b && b <= '9':
		return int(b - '0')
	case 'a' <= b && b <= 'f':
		return int(b - 'a' + 10)
	case 'A' <= b && b <= 'F':
		return int(b - 'A' + 10)
	}
	return -1
}
