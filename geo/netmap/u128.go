package netmap

import (
	"math/bits"
	"net/netip"
)

// u128 is an IPv6 address, or an IPv4 one at ::/96, as a number.
type u128 struct{ hi, lo uint64 }

var maxU128 = u128{^uint64(0), ^uint64(0)}

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) next() u128 {
	lo, carry := bits.Add64(a.lo, 1, 0)
	return u128{a.hi + carry, lo}
}

func (a u128) prev() u128 {
	lo, borrow := bits.Sub64(a.lo, 1, 0)
	return u128{a.hi - borrow, lo}
}

// hostMask has the bits from position n (0 = most significant) on set.
func hostMask(n int) u128 {
	switch {
	case n <= 0:
		return maxU128
	case n < 64:
		return u128{^uint64(0) >> n, ^uint64(0)}
	case n < 128:
		return u128{0, ^uint64(0) >> (n - 64)}
	}
	return u128{}
}

func (a u128) or(b u128) u128 { return u128{a.hi | b.hi, a.lo | b.lo} }

// withBit sets bit n (0 = most significant).
func (a u128) withBit(n int) u128 {
	if n < 64 {
		return u128{a.hi | 1<<(63-n), a.lo}
	}
	return u128{a.hi, a.lo | 1<<(127-n)}
}

// bit is bit n (0 = most significant).
func (a u128) bit(n int) uint64 {
	if n < 64 {
		return a.hi >> (63 - n) & 1
	}
	return a.lo >> (127 - n) & 1
}

func fromAddr(a netip.Addr) u128 {
	if a.Is4() {
		v := a.As4()
		return u128{0, uint64(v[0])<<24 | uint64(v[1])<<16 | uint64(v[2])<<8 | uint64(v[3])}
	}
	b := a.As16()
	var x u128
	for i := range 8 {
		x.hi = x.hi<<8 | uint64(b[i])
		x.lo = x.lo<<8 | uint64(b[8+i])
	}
	return x
}

// span is an inclusive range of addresses with one class.
type span struct {
	lo, hi u128
	class  uint32
}

// spanOf is the range of p, IPv4 prefixes at ::/96.
func spanOf(p netip.Prefix, class uint32) span {
	p = p.Masked()
	n := p.Bits()
	if p.Addr().Is4() {
		n += 96
	}
	lo := fromAddr(p.Addr())
	return span{lo, lo.or(hostMask(n)), class}
}

// overlaps reports whether s and t share an address.
func (s span) overlaps(t span) bool { return !s.hi.less(t.lo) && !t.hi.less(s.lo) }
