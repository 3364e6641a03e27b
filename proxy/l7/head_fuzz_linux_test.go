//go:build linux

package l7

// loopFrame frames a head in data as the loop engine does (stepIdle): empty lines skipped,
// then up to the first empty line; end is -1 without one.
func loopFrame(data []byte) (start, end int, ok bool) {
	start = skipBlank(data, 0, len(data))
	if e := headEnd(data[start:]); e >= 0 {
		return start, start + e, true
	}
	return start, -1, true
}
