package netmap

import "context"

// A ref is a node index, or with leafBit set a leaf's class ID.
const leafBit = 1 << 31

func isLeaf(ref uint32) bool { return ref&leafBit != 0 }

// node holds the refs of the halves of its prefix: [0] with the next bit clear, [1] set.
type node [2]uint32

// trieBuilder makes the smallest trie of spans: a prefix inside one span is a leaf.
type trieBuilder struct {
	ctx   context.Context
	spans []span // sorted, covering every address, no two neighbours of one class
	nodes []node
	err   error
}

// build returns the ref of the prefix lo/depth, whose first address is in spans[i], and the
// index of the span holding the prefix's last address.
func (b *trieBuilder) build(lo u128, depth, i int) (uint32, int) {
	if last := lo.or(hostMask(depth)); !b.spans[i].hi.less(last) {
		return leafBit | b.spans[i].class, i
	}
	if b.err != nil {
		return leafBit | unknownID, i
	}
	if len(b.nodes)%checkEvery == 0 {
		if b.err = b.ctx.Err(); b.err != nil {
			return leafBit | unknownID, i
		}
	}
	n := len(b.nodes)
	b.nodes = append(b.nodes, node{})
	left, j := b.build(lo, depth+1, i)
	mid := lo.withBit(depth)
	if b.spans[j].hi.less(mid) {
		j++
	}
	right, k := b.build(mid, depth+1, j)
	b.nodes[n] = node{left, right}
	return uint32(n), k
}
