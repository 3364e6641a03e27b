package dns

import "net/netip"

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
	ecs      int // offset of the query's ECS option (RFC 7871), 0 when it has none
	cookie   int // offset of the query's COOKIE option (RFC 7873), 0 when it has none
	keyBytes [keyLen]byte
	keyN     int
	trace    *trace // not nil: the fast path copies its policy decision here (dnstap)
}

func u16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

// parseFast recognises the common query shape: QR=0, opcode QUERY, one question with an
// uncompressed name, no answer or authority records, and either nothing or one OPT (version 0,
// no option, or an ECS option, a COOKIE option or both) in the additional section, with nothing
// after it. Anything
// else returns ok=false and goes to the slow path, which knows every rule. Prepared replies
// serve only queries without ECS (q.ecs == 0); load-balanced names take ECS queries too.
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
	q.edns, q.udpSize, q.ecs, q.cookie = noEDNS, 0, 0, 0
	if ar == 1 {
		// OPT: root name, type 41, class = UDP size, TTL = ext-rcode/version/flags, rdlen, and
		// either no option or exactly one well-formed ECS option.
		if len(b)-off < 11 || b[off] != 0 || u16(b[off+1:]) != typeOPT || b[off+5] != 0 || b[off+6] != 0 {
			return false
		}
		rdlen := int(u16(b[off+9:]))
		if len(b)-off != 11+rdlen {
			return false
		}
		q.cookie = 0
		for o := off + 11; o < len(b); {
			if len(b)-o < 4 {
				return false
			}
			code, l := u16(b[o:]), int(u16(b[o+2:]))
			if o+4+l > len(b) {
				return false
			}
			switch {
			case code == optionECS && q.ecs == 0 && validECSOption(b[o:o+4+l]):
				q.ecs = o
			case code == optionCookie && q.cookie == 0:
				q.cookie = o // checked (and FORMERR when malformed) by the caller
			default:
				return false
			}
			o += 4 + l
		}
		q.udpSize = u16(b[off+3:])
		q.edns = ednsDO0
		switch flags := u16(b[off+7:]); {
		case flags == flagDO:
			q.edns = ednsDO1
		case flags != 0:
			return false // another flag (such as CO, RFC 9824) can change the reply
		}
		off += 11 + rdlen
	}
	if off != len(b) {
		return false
	}
	q.keyBytes[k] = byte(q.edns)
	q.keyN = k + 1
	return true
}

func (q *query) key() []byte { return q.keyBytes[:q.keyN] }

// question is the lower-cased wire name, type and class: key without the EDNS form.
func (q *query) question() []byte { return q.keyBytes[:q.keyN-1] }

// optionECS is the EDNS option code of Client Subnet.
const optionECS = 8

// validECSOption reports whether o is exactly one ECS option as RFC 7871 §6 wants it in a
// query: family 1 or 2, a source prefix that fits it (and is not 0), scope 0, exactly
// ceil(source/8) address bytes, and no bits set past the source prefix.
func validECSOption(o []byte) bool {
	if len(o) < 8 || u16(o) != optionECS || int(u16(o[2:])) != len(o)-4 {
		return false
	}
	family, source, scope := u16(o[4:]), int(o[6]), o[7]
	switch {
	case family == 1 && source <= 32, family == 2 && source <= 128:
	default:
		return false
	}
	addr := o[8:]
	if source == 0 || scope != 0 || len(addr) != (source+7)/8 {
		return false
	}
	return source%8 == 0 || addr[len(addr)-1]&(0xff>>(source%8)) == 0
}

// ecsFromWire is the subnet of an option validECSOption accepted.
func ecsFromWire(o []byte) ecsInfo {
	var a16 [16]byte
	n := copy(a16[:], o[8:])
	addr := netip.AddrFrom16(a16)
	if u16(o[4:]) == 1 {
		var a4 [4]byte
		copy(a4[:], a16[:n])
		addr = netip.AddrFrom4(a4)
	}
	p, err := addr.Prefix(int(o[6]))
	return ecsInfo{prefix: p, ok: err == nil}
}

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
