package policy

import (
	"math"
	"net/netip"
)

// The rendezvous hash must give the same score on every node and in every version: it is
// FNV-1a 64 over (family, subnet bytes, 0xff, endpoint ID), then the splitmix64 finaliser,
// whose avalanche FNV alone lacks for inputs that differ only in their last bytes.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// Subnet sizes a Hash selection keys on, and the caller scopes an ECS reply with.
const (
	subnetBits4 = 24
	subnetBits6 = 56
)

// subnetHash is the FNV-1a state after the client's subnet, and the subnet's prefix length
// (0 for an invalid address, which every such client then shares).
func subnetHash(a netip.Addr) (h uint64, bits int) {
	a = a.Unmap()
	h = fnvOffset
	switch {
	case a.Is4():
		b := a.As4()
		h = fnvByte(h, 4)
		for _, c := range b[:subnetBits4/8] {
			h = fnvByte(h, c)
		}
		bits = subnetBits4
	case a.Is6():
		b := a.As16()
		h = fnvByte(h, 6)
		for _, c := range b[:subnetBits6/8] {
			h = fnvByte(h, c)
		}
		bits = subnetBits6
	}
	return fnvByte(h, 0xff), bits
}

// endpointHash continues the subnet's state with the endpoint ID and finalises it.
func endpointHash(subnet uint64, id string) uint64 {
	h := subnet
	for i := 0; i < len(id); i++ {
		h = fnvByte(h, id[i])
	}
	return mix64(h)
}

func fnvByte(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hrwScore is the weighted rendezvous score -w/ln(u), u being h mapped into (0,1): over
// all subnets, an endpoint has the highest score in proportion to its weight.
func hrwScore(h uint64, w uint32) float64 {
	u := (float64(h>>11) + 0.5) / (1 << 53)
	return -float64(max(w, 1)) / math.Log(u)
}
