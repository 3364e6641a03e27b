package l7

// chunkParser finds the end of a chunked body as it streams through, and which of its bytes
// are data, without buffering: the loop engine passes the framing on as it is (or drops it
// for an HTTP/1.0 client). Because the next hop reads that framing itself, it accepts only
// the strict grammar of RFC 9112 7.1: every line ends in CRLF (no bare CR or LF; errata
// 7633), only whitespace or an extension follows the size, and CRLF follows the data.
type chunkParser struct {
	state   uint8
	size    int64 // data left in the current chunk
	digits  int
	line    int // bytes after the size digits, or in the current trailer line
	trailer int // bytes in the trailer section
}

const (
	chunkSize      = iota // reading the size's hex digits
	chunkSizeWS           // whitespace after the size
	chunkExt              // an extension, up to the line's CR
	chunkSizeLF           // the LF that ends the size line
	chunkData             // size bytes of data
	chunkDataCR           // the CR after the data
	chunkDataLF           // and its LF
	chunkTrailer          // trailer lines, up to an empty one
	chunkTrailerLF        // the LF that ends a trailer line
	chunkDone
)

// maxChunkLine bounds what follows a chunk size on its line, and the trailer section.
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
			c.state = chunkDataCR
		}
		return n, true, nil
	}
	for n < len(p) && c.state != chunkDone && c.state != chunkData {
		b := p[n]
		n++
		switch c.state {
		case chunkSize:
			if d := unhex(b); d >= 0 {
				if c.digits++; c.digits > 15 {
					return n, false, errBadChunk
				}
				c.size = c.size<<4 | int64(d)
				continue
			}
			if c.digits == 0 {
				return n, false, errBadChunk
			}
			c.state, c.line = chunkSizeWS, 0
			fallthrough
		case chunkSizeWS:
			switch b {
			case '\r':
				c.state = chunkSizeLF
				continue
			case ';':
				c.state = chunkExt
			case ' ', '\t':
			default:
				return n, false, errBadChunk
			}
			if c.line++; c.line > maxChunkLine {
				return n, false, errBadChunk
			}
		case chunkExt:
			switch {
			case b == '\r':
				c.state = chunkSizeLF
			case b == '\n':
				return n, false, errBadChunk
			default:
				if c.line++; c.line > maxChunkLine {
					return n, false, errBadChunk
				}
			}
		case chunkSizeLF:
			if b != '\n' {
				return n, false, errBadChunk
			}
			c.endSize()
		case chunkDataCR:
			if b != '\r' {
				return n, false, errBadChunk
			}
			c.state = chunkDataLF
		case chunkDataLF:
			if b != '\n' {
				return n, false, errBadChunk
			}
			c.state, c.digits, c.size = chunkSize, 0, 0
		case chunkTrailer:
			switch {
			case b == '\r':
				c.state = chunkTrailerLF
			case b == '\n':
				return n, false, errBadChunk
			default:
				c.line++
				if c.trailer++; c.trailer > maxChunkLine {
					return n, false, errBadChunk
				}
			}
		case chunkTrailerLF:
			switch {
			case b != '\n':
				return n, false, errBadChunk
			case c.line == 0:
				c.state = chunkDone
			default:
				c.state, c.line = chunkTrailer, 0
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
