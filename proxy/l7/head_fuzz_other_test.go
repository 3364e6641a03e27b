//go:build !linux

package l7

// loopFrame: there is no loop engine off Linux.
func loopFrame(data []byte) (start, end int, ok bool) { return 0, -1, false }
