package netmap

import (
	"net/netip"
	"unsafe"

	"github.com/meridian-gslb/meridian/geo"
)

// Map assigns every address a class and the widest prefix containing it over which the
// class is constant.
type Map struct {
	nodes   []node
	root    uint32   // ref of ::/0
	v4      uint32   // ref of ::/96, or of the leaf above it
	classes []string // by class ID

	examples []geo.Location // by class ID: the first location of the class in the walk

	alias6to4, aliasTeredo bool // read these ranges as IPv4
}

// Lookup returns a's class and the length of the widest prefix around a over which every
// address has that class: in IPv4 bits (0..32) for an IPv4 address, in IPv6 bits
// (0..128) otherwise. bits is -1, with class "", where the map cannot tell (see the package
// doc) and for the zero Addr. Lookup does not allocate.
func (m *Map) Lookup(a netip.Addr) (class string, bits int) {
	switch {
	case !a.IsValid():
		return "", -1
	case a.Is4():
		v := a.As4()
		return m.lookup4(uint32(v[0])<<24 | uint32(v[1])<<16 | uint32(v[2])<<8 | uint32(v[3]))
	}
	x := fromAddr(a)
	var off int
	switch {
	case x.hi == 0 && x.lo>>32 == 0xffff: // ::ffff:0:0/96
		off = 96
	case m.alias6to4 && x.hi>>48 == 0x2002: // 2002:AABB:CCDD::
		off, x.lo = 16, x.hi>>16
	case m.aliasTeredo && x.hi>>32 == 0x2001_0000: // 2001:0:AABB:CCDD::
		off, x.lo = 32, x.hi
	default:
		return m.lookup6(x)
	}
	class, bits = m.lookup4(uint32(x.lo))
	if bits >= 0 {
		bits += off
	}
	return class, bits
}

// lookup4 descends from ::/96; every path ends in a leaf by depth 128.
func (m *Map) lookup4(v uint32) (string, int) {
	ref, d := m.v4, 0
	for !isLeaf(ref) {
		ref = m.nodes[ref][v>>(31-d)&1]
		d++
	}
	return m.leaf(ref, d)
}

func (m *Map) lookup6(x u128) (string, int) {
	ref, d := m.root, 0
	for !isLeaf(ref) {
		ref = m.nodes[ref][x.bit(d)]
		d++
	}
	return m.leaf(ref, d)
}

func (m *Map) leaf(ref uint32, depth int) (string, int) {
	id := ref &^ leafBit
	if id < firstClassID {
		return "", -1
	}
	return m.classes[id], depth
}

// Classes is the number of distinct classes, the class of uncovered space included.
func (m *Map) Classes() int { return len(m.classes) - int(firstClassID) }

// Nodes is the number of inner nodes of the trie, 8 bytes each.
func (m *Map) Nodes() int { return len(m.nodes) }

// Bytes is about the memory the Map holds: its trie and its class names.
func (m *Map) Bytes() int {
	n := len(m.nodes) * int(unsafe.Sizeof(node{}))
	for _, c := range m.classes {
		n += len(c) + int(unsafe.Sizeof(c)+unsafe.Sizeof(geo.Location{}))
	}
	return n
}

// Examples yields every class with its example, the first location of the class that the
// walk reported; the zero Location for the class of uncovered space, which comes first.
func (m *Map) Examples(yield func(class string, example geo.Location) bool) {
	for id := firstClassID; int(id) < len(m.classes); id++ {
		if !yield(m.classes[id], m.examples[id]) {
			return
		}
	}
}
