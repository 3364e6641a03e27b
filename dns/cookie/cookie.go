// Package cookie makes and checks DNS server cookies (RFC 7873) in the
// interoperable form of RFC 9018, so that every node of an anycast deployment
// that shares a Secret — whatever software it runs — accepts the cookies the
// others hand out.
//
// A server cookie is 16 bytes:
//
//	Version (1) | Reserved (3) | Timestamp (4) | Hash (8)
//
// Version is 1, Reserved is zero when made, Timestamp is the time it was made in
// seconds since the Unix epoch (a 32-bit serial number, RFC 1982) in network byte
// order, and Hash is
//
//	SipHash-2-4(Secret, Client Cookie | Version | Reserved | Timestamp | Client-IP)
//
// where Client-IP is the 4 or 16 bytes of the client's address; the 64-bit
// result is written little-endian.
//
// A Jar holds the secrets and is immutable; to change them, build a new Jar and
// swap it in (through an atomic.Pointer, say). The roll-over of RFC 9018 §5 is
// three Jars: NewJar(old, &new) on every node, so all accept the new secret
// before any uses it; then NewJar(new, &old), so cookies already handed out
// stay Good; and, once those are more than MaxAge old, NewJar(new, nil).
package cookie

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// Sizes of the parts of a COOKIE option (RFC 7873 §4, RFC 9018 §4).
const (
	// ClientLen is the length of a client cookie.
	ClientLen = 8
	// ServerLen is the length of the server cookies this package makes.
	ServerLen = 16

	minServerLen = 8  // shortest server cookie RFC 7873 allows
	maxServerLen = 32 // longest
)

// Lifetimes of a server cookie, in seconds (RFC 9018 §4.3).
const (
	// MaxAge is how old a cookie may be and still be Good: one hour.
	MaxAge = 60 * 60
	// MaxSkew is how far in the future a cookie's timestamp may be and still
	// be Good: five minutes, for clocks that differ between nodes.
	MaxSkew = 5 * 60
	// RefreshAge is the age past which a Good cookie should be replaced by a
	// fresh one: half an hour.
	RefreshAge = 30 * 60
)

// version is the only server cookie version RFC 9018 defines.
const version = 1

// Secret is a 16-byte SipHash-2-4 key shared by all nodes of a deployment.
type Secret [16]byte

// ParseSecret reads a secret from a file's content: exactly 32 hexadecimal
// digits, either case, with surrounding whitespace (a trailing newline, say)
// ignored. The error says which character is not a hex digit, or how many
// digits there were; it never quotes the content.
func ParseSecret(b []byte) (Secret, error) {
	var s Secret
	b = bytes.TrimSpace(b)
	for i, c := range b {
		if fromHex(c) < 0 {
			return s, fmt.Errorf("cookie secret: character %d is %q, not a hexadecimal digit (want 32 hex digits)", i+1, rune(c))
		}
	}
	if len(b) != 2*len(s) {
		return s, fmt.Errorf("cookie secret: %d hex digits, want exactly %d (a 128-bit key)", len(b), 2*len(s))
	}
	for i := range s {
		s[i] = byte(fromHex(b[2*i])<<4 | fromHex(b[2*i+1]))
	}
	return s, nil
}

// fromHex returns the value of the hex digit c, or -1 when it is not one.
func fromHex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// RandomSecret returns a secret from crypto/rand, for a node that has no
// configured one. Cookies it makes are accepted only by that node, and only
// until it restarts.
func RandomSecret() Secret {
	var s Secret
	// crypto/rand.Read never returns an error (it crashes the program
	// instead when the system's generator fails).
	_, _ = rand.Read(s[:])
	return s
}

// Verdict is what Check makes of a COOKIE option.
type Verdict uint8

const (
	// Malformed: the option's length is not 8, nor 16 to 40. The reply is
	// FORMERR (RFC 7873 §5.2.2).
	Malformed Verdict = iota
	// ClientOnly: a client cookie and no server cookie (RFC 7873 §5.2.3).
	ClientOnly
	// Bad: a server cookie this deployment did not make, of another version,
	// or not valid now. Treat the query as if it had only a client cookie
	// (RFC 7873 §5.2.3, §5.2.4).
	Bad
	// Good: a server cookie made by the current or previous secret for this
	// client cookie and address, at most MaxAge old and at most MaxSkew in
	// the future (RFC 9018 §4.3).
	Good
)

// String returns the verdict's name.
func (v Verdict) String() string {
	switch v {
	case Malformed:
		return "Malformed"
	case ClientOnly:
		return "ClientOnly"
	case Bad:
		return "Bad"
	case Good:
		return "Good"
	}
	return fmt.Sprintf("Verdict(%d)", uint8(v))
}

// Jar makes and checks server cookies. It is immutable and safe for
// concurrent use.
type Jar struct {
	current  sipKey
	previous sipKey
	hasPrev  bool
	now      func() time.Time
}

// NewJar returns a Jar that makes cookies with current and accepts cookies made
// with current or, when it is not nil, previous — the overlap while a new
// secret is rolled out to every node (RFC 9018 §5). now is the clock; nil means
// time.Now.
func NewJar(current Secret, previous *Secret, now func() time.Time) *Jar {
	j := &Jar{current: newSipKey((*[16]byte)(&current)), now: now}
	if previous != nil {
		j.previous = newSipKey((*[16]byte)(previous))
		j.hasPrev = true
	}
	if j.now == nil {
		j.now = time.Now
	}
	return j
}

// Make appends to dst the 16-byte server cookie for client cookie client from
// address ip, stamped with the Jar's clock, and returns the extended slice. It
// does not allocate when dst has room for 16 more bytes.
//
// An IPv4-mapped IPv6 address (from a dual-stack socket) is hashed as the IPv4
// address it carries, so nodes with either kind of socket agree; an IPv6 zone
// is ignored. The zero netip.Addr contributes no address bytes.
func (j *Jar) Make(dst []byte, client [ClientLen]byte, ip netip.Addr) []byte {
	var head [8]byte
	head[0] = version
	binary.BigEndian.PutUint32(head[4:], j.timestamp())
	dst = append(dst, head[:]...)
	return binary.LittleEndian.AppendUint64(dst, hash(j.current, &client, &head, ip))
}

// Check reads the data of a COOKIE option — an 8-byte client cookie, then no
// server cookie or one of 8 to 32 bytes — received from address ip, and returns
// the client cookie and a verdict on the server cookie. client is the zero
// value when v is Malformed.
//
// refresh is true when v is Good but the cookie is more than RefreshAge old,
// so the reply should carry a fresh one from Make (RFC 9018 §4.3). Replies to
// ClientOnly and Bad queries always need a fresh one.
//
// The Reserved bytes of a received cookie are hashed as sent, not as zero
// (RFC 9018 Appendix A.3). Only 16-byte, version 1 server cookies can be Good;
// other lengths from 8 to 32 bytes are well-formed but Bad.
func (j *Jar) Check(opt []byte, ip netip.Addr) (client [ClientLen]byte, v Verdict, refresh bool) {
	n := len(opt)
	if n != ClientLen && (n < ClientLen+minServerLen || n > ClientLen+maxServerLen) {
		return client, Malformed, false
	}
	copy(client[:], opt)
	if n == ClientLen {
		return client, ClientOnly, false
	}
	server := opt[ClientLen:]
	if len(server) != ServerLen || server[0] != version {
		return client, Bad, false
	}

	// Serial-number arithmetic (RFC 1982, as RFC 9018 §4.3 requires): the
	// difference of two 32-bit timestamps, read as signed, is right across
	// the 2106 wrap as long as the two are within 68 years of each other.
	age := int32(j.timestamp() - binary.BigEndian.Uint32(server[4:8]))
	if age > MaxAge || age < -MaxSkew {
		return client, Bad, false
	}

	head := (*[8]byte)(server[:8])
	got := binary.LittleEndian.Uint64(server[8:])
	if hash(j.current, &client, head, ip) != got &&
		(!j.hasPrev || hash(j.previous, &client, head, ip) != got) {
		return client, Bad, false
	}
	return client, Good, age > RefreshAge
}

// timestamp is the Jar's clock as a 32-bit serial number of seconds since the
// Unix epoch: the low 32 bits, which is what RFC 1982 arithmetic works on.
func (j *Jar) timestamp() uint32 {
	return uint32(j.now().Unix())
}

// hash is the RFC 9018 §4.4 Hash field: SipHash-2-4 under k of the client
// cookie, the server cookie's first 8 bytes (Version, Reserved, Timestamp) and
// the client's address.
func hash(k sipKey, client *[ClientLen]byte, head *[8]byte, ip netip.Addr) uint64 {
	var msg [ClientLen + 8 + 16]byte
	copy(msg[:], client[:])
	copy(msg[ClientLen:], head[:])
	n := ClientLen + 8
	ip = ip.Unmap()
	switch {
	case ip.Is4():
		a := ip.As4()
		n += copy(msg[n:], a[:])
	case ip.Is6():
		a := ip.As16()
		n += copy(msg[n:], a[:])
	}
	return k.sum64(msg[:n])
}
