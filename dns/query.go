package dns

// Wire-level view of a query, parsed by hand for the fast path (RFC 1035 §4.1).

const (
	headerLen = 12
	maxName   = 255
	// keyLen fits a wire name, type, class and the EDNS form.
	keyLen = maxName + 5

	flagQR     = 0x8000
	flagOpcode = 0x7800
	flagRD     = 0x0100
	flagCD     = 0x0010

	typeOPT = 41
	// flagDO is the DNSSEC OK bit in the OPT TTL's low 16 bits.
	flagDO = 0x8000
)

// ednsForm is how a query carried EDNS: it decides the OPT in the reply.
type ednsForm uint8

const (
	noEDNS ednsForm = iota
	ednsDO0
	ednsDO1
)

// query is a parsed plain query: one question and at most a bare OPT record.
type query struct {
	nameEnd  int // offset just past the question name
	edns     ednsForm
	udpSize  uint16
	keyBytes [keyLen]byte
	keyN     int
}

func u16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

// parseFast recognises the common query shape: QR=0, opcode QUERY, one question with an
// uncompressed name, no answer or authority records, and either nothing or one OPT (version 0, no
// options) in the additional section, with nothing after it. Anything else returns ok=false and
// goes to the slow path, which knows every rule.
func parseFast(b []byte, q *query) bool {
	if len(b) < headerLen+5 {
		return false
	}
	if u16(b[2:])&(flagQR|flagOpcode) != 0 || u16(b[4:]) != 1 || u16(b[6:]) != 0 || u16(b[8:]) != 0 {
		return false
	}
	ar := u16(b[10:])
	if ar > 1 {
		return false
	}
	// Name: lower-cased into the key as we go.
	off := headerLen
	k := 0
	for {
		if off >= len(b) {
			return false
		}
		l := int(b[off])
		if l == 0 {
			q.keyBytes[k] = 0
			k++
			off++
			break
		}
		if l > 63 || off+1+l > len(b) || k+1+l >= maxName {
			return false // compression pointer, bad label or too long
		}
		q.keyBytes[k] = byte(l)
		k++
		for _, c := range b[off+1 : off+1+l] {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			q.keyBytes[k] = c
			k++
		}
		off += 1 + l
	}
	if off+4 > len(b) {
		return false
	}
	q.nameEnd = off
	copy(q.keyBytes[k:], b[off:off+4]) // type, class
	k += 4
	off += 4
	q.edns, q.udpSize = noEDNS, 0
	if ar == 1 {
		// Bare OPT: root name, type 41, class = UDP size, TTL = ext-rcode/version/flags, rdlen 0.
		if len(b)-off != 11 || b[off] != 0 || u16(b[off+1:]) != typeOPT || b[off+5] != 0 || b[off+6] != 0 || u16(b[off+9:]) != 0 {
			return false
		}
		q.udpSize = u16(b[off+3:])
		q.edns = ednsDO0
		if u16(b[off+7:])&flagDO != 0 {
			q.edns = ednsDO1
		}
		off += 11
	}
	if off != len(b) {
		return false
	}
	q.keyBytes[k] = byte(q.edns)
	q.keyN = k + 1
	return true
}

func (q *query) key() []byte { return q.keyBytes[:q.keyN] }

// limit is the largest reply the client accepts over proto.
func (q *query) limit(proto Proto, ednsMax uint16) int {
	return replyLimit(proto, q.edns != noEDNS, q.udpSize, ednsMax)
}

// replyLimit: 65535 over TCP; over UDP 512 without EDNS, else the client's size clamped to
// [512, our configured maximum] (RFC 6891 §6.2.5).
func replyLimit(proto Proto, edns bool, clientSize, ednsMax uint16) int {
	if proto == TCP {
		return 65535
	}
	if !edns {
		return 512
	}
	return int(max(512, min(clientSize, ednsMax)))
}

// questionName returns the end of the uncompressed question name starting at offset 12, or -1.
func questionName(b []byte) int {
	off := headerLen
	for off < len(b) {
		l := int(b[off])
		switch {
		case l == 0:
			return off + 1
		case l > 63:
			return -1
		}
		off += 1 + l
	}
	return -1
}

// patch makes a prepared reply answer this query: the query's ID, its RD and CD bits, and its
// question name bytes (so the letter case the client sent comes back, RFC 1035 §7.1 / 0x20).
func patch(resp, req []byte, nameEnd int) {
	resp[0], resp[1] = req[0], req[1]
	resp[2] = resp[2]&^byte(flagRD>>8) | req[2]&byte(flagRD>>8)
	resp[3] = resp[3]&^byte(flagCD) | req[3]&byte(flagCD)
	copy(resp[headerLen:nameEnd], req[headerLen:nameEnd])
}
