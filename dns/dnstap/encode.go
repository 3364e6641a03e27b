package dnstap

import (
	"encoding/binary"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// The dnstap.proto fields written (github.com/dnstap/golang-dnstap dnstap.pb/dnstap.proto): the
// encoder writes them with protowire, in field-number order as proto.Marshal does, so a frame
// is byte for byte what golang-dnstap's generated types marshal to (encode_test.go checks).
const (
	fieldIdentity = 1  // Dnstap.identity, bytes
	fieldVersion  = 2  // Dnstap.version, bytes
	fieldExtra    = 3  // Dnstap.extra, bytes
	fieldMessage  = 14 // Dnstap.message, Message
	fieldType     = 15 // Dnstap.type, enum: MESSAGE = 1

	fieldMsgType      = 1  // Message.type, enum: AUTH_QUERY = 1, AUTH_RESPONSE = 2
	fieldFamily       = 2  // Message.socket_family, enum: INET = 1, INET6 = 2
	fieldProtocol     = 3  // Message.socket_protocol, enum: UDP = 1, TCP = 2
	fieldQueryAddress = 4  // Message.query_address, bytes
	fieldQueryPort    = 6  // Message.query_port, uint32
	fieldQuerySec     = 8  // Message.query_time_sec, uint64
	fieldQueryNsec    = 9  // Message.query_time_nsec, fixed32
	fieldQueryMessage = 10 // Message.query_message, bytes
	fieldRespSec      = 12 // Message.response_time_sec, uint64
	fieldRespNsec     = 13 // Message.response_time_nsec, fixed32
	fieldRespMessage  = 14 // Message.response_message, bytes

	typeMessage      = 1
	typeAuthQuery    = 1
	typeAuthResponse = 2
	familyINET       = 1
	familyINET6      = 2
	protocolUDP      = 1
	protocolTCP      = 2
)

// appendFrame appends the Frame Streams data frame (a 4-byte big-endian length, then the
// payload) of e's query (query) or response as a dnstap Dnstap message. extra goes in the extra
// field when not empty; m's identity and version whenever they are not nil.
func appendFrame(b []byte, e *Entry, query bool, m *meta, extra []byte) []byte {
	addr := e.Client.Addr().Unmap()
	var a [16]byte
	ip, family := a[:4], uint64(familyINET)
	if addr.Is4() {
		a4 := addr.As4()
		copy(a[:], a4[:])
	} else {
		a = addr.As16()
		ip, family = a[:], familyINET6
	}
	protocol := uint64(protocolUDP)
	if e.TCP {
		protocol = protocolTCP
	}
	port := uint64(e.Client.Port())
	// The query time goes in both messages, so a response says how long it took (dnstap.proto).
	qsec, qnsec := uint64(e.QueryTime.Unix()), uint32(e.QueryTime.Nanosecond())
	var rsec uint64
	var rnsec uint32
	mtype, wire, wireField := uint64(typeAuthQuery), e.Query, protowire.Number(fieldQueryMessage)
	if !query {
		mtype, wire, wireField = typeAuthResponse, e.Response, fieldRespMessage
		rsec, rnsec = uint64(e.ResponseTime.Unix()), uint32(e.ResponseTime.Nanosecond())
	}

	// Every tag here is one byte (field numbers below 16).
	msgLen := 1 + protowire.SizeVarint(mtype) +
		2 + 2 + // family and protocol: one-byte values
		1 + protowire.SizeBytes(len(ip)) +
		1 + protowire.SizeVarint(port) +
		1 + protowire.SizeVarint(qsec) + 1 + 4 +
		1 + protowire.SizeBytes(len(wire))
	if !query {
		msgLen += 1 + protowire.SizeVarint(rsec) + 1 + 4
	}
	n := 1 + protowire.SizeBytes(msgLen) + 2 // message, type MESSAGE
	if m.identity != nil {
		n += 1 + protowire.SizeBytes(len(m.identity))
	}
	if m.version != nil {
		n += 1 + protowire.SizeBytes(len(m.version))
	}
	if len(extra) > 0 {
		n += 1 + protowire.SizeBytes(len(extra))
	}

	// One growth, then every byte written in place: protowire's Append functions check the
	// capacity byte by byte, which was most of the encoding's time.
	i := len(b)
	b = slices.Grow(b, 4+n)[:i+4+n]
	binary.BigEndian.PutUint32(b[i:], uint32(n))
	i += 4
	if m.identity != nil {
		i = putBytes(b, i, tag(fieldIdentity, protowire.BytesType), m.identity)
	}
	if m.version != nil {
		i = putBytes(b, i, tag(fieldVersion, protowire.BytesType), m.version)
	}
	if len(extra) > 0 {
		i = putBytes(b, i, tag(fieldExtra, protowire.BytesType), extra)
	}
	b[i] = tag(fieldMessage, protowire.BytesType)
	i = putVarint(b, i+1, uint64(msgLen))
	i = putField(b, i, tag(fieldMsgType, protowire.VarintType), mtype)
	i = putField(b, i, tag(fieldFamily, protowire.VarintType), family)
	i = putField(b, i, tag(fieldProtocol, protowire.VarintType), protocol)
	i = putBytes(b, i, tag(fieldQueryAddress, protowire.BytesType), ip)
	i = putField(b, i, tag(fieldQueryPort, protowire.VarintType), port)
	i = putField(b, i, tag(fieldQuerySec, protowire.VarintType), qsec)
	b[i] = tag(fieldQueryNsec, protowire.Fixed32Type)
	binary.LittleEndian.PutUint32(b[i+1:], qnsec)
	i += 5
	if !query {
		i = putField(b, i, tag(fieldRespSec, protowire.VarintType), rsec)
		b[i] = tag(fieldRespNsec, protowire.Fixed32Type)
		binary.LittleEndian.PutUint32(b[i+1:], rnsec)
		i += 5
	}
	i = putBytes(b, i, tag(wireField, protowire.BytesType), wire)
	putField(b, i, tag(fieldType, protowire.VarintType), typeMessage)
	return b
}

// tag is the key of a field numbered below 16: one byte.
func tag(num protowire.Number, typ protowire.Type) byte { return byte(protowire.EncodeTag(num, typ)) }

// putVarint writes v at b[i:] as a protobuf varint and returns the index after it.
func putVarint(b []byte, i int, v uint64) int {
	for v >= 0x80 {
		b[i] = byte(v) | 0x80
		v >>= 7
		i++
	}
	b[i] = byte(v)
	return i + 1
}

func putField(b []byte, i int, tag byte, v uint64) int {
	b[i] = tag
	return putVarint(b, i+1, v)
}

func putBytes(b []byte, i int, tag byte, v []byte) int {
	b[i] = tag
	i = putVarint(b, i+1, uint64(len(v)))
	return i + copy(b[i:], v)
}
