package cookie

import (
	"encoding/binary"
	"math/bits"
)

// sipKey is a SipHash key split into the two little-endian 64-bit words the
// algorithm works on, so a Jar decodes its secrets once rather than per query.
type sipKey struct{ k0, k1 uint64 }

// newSipKey splits a 16-byte key as the SipHash paper does: k0 is bytes 0..7
// and k1 bytes 8..15, each read little-endian.
func newSipKey(key *[16]byte) sipKey {
	return sipKey{
		k0: binary.LittleEndian.Uint64(key[0:8]),
		k1: binary.LittleEndian.Uint64(key[8:16]),
	}
}

// sum64 returns SipHash-2-4 of m under k (Aumasson and Bernstein, "SipHash: a
// fast short-input PRF", 2012): two compression rounds per 8-byte word, four
// finalization rounds. It does not allocate.
func (k sipKey) sum64(m []byte) uint64 {
	v0 := k.k0 ^ 0x736f6d6570736575 // "somepseu"
	v1 := k.k1 ^ 0x646f72616e646f6d // "dorandom"
	v2 := k.k0 ^ 0x6c7967656e657261 // "lygenera"
	v3 := k.k1 ^ 0x7465646279746573 // "tedbytes"

	// The last word carries the message length (mod 256) in its top byte.
	last := uint64(len(m)) << 56
	for ; len(m) >= 8; m = m[8:] {
		w := binary.LittleEndian.Uint64(m)
		v3 ^= w
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
		v0 ^= w
	}
	for i, c := range m {
		last |= uint64(c) << (8 * i)
	}
	v3 ^= last
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0 ^= last

	v2 ^= 0xff
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	v0, v1, v2, v3 = sipRound(v0, v1, v2, v3)
	return v0 ^ v1 ^ v2 ^ v3
}

// sipRound is one SipRound: the add-rotate-xor network of the paper's §2.
func sipRound(v0, v1, v2, v3 uint64) (uint64, uint64, uint64, uint64) {
	v0 += v1
	v1 = bits.RotateLeft64(v1, 13)
	v1 ^= v0
	v0 = bits.RotateLeft64(v0, 32)
	v2 += v3
	v3 = bits.RotateLeft64(v3, 16)
	v3 ^= v2
	v0 += v3
	v3 = bits.RotateLeft64(v3, 21)
	v3 ^= v0
	v2 += v1
	v1 = bits.RotateLeft64(v1, 17)
	v1 ^= v2
	v2 = bits.RotateLeft64(v2, 32)
	return v0, v1, v2, v3
}
