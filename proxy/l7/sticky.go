package l7

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

// stickyID is the cookie value naming u: a hash of its ID (its address when the ID is
// empty), so that the cookie does not reveal the backend and stays the same across restarts
// and across the nodes of a region.
func stickyID(u *balance.Upstream) string {
	id := u.ID
	if id == "" {
		id = u.Addr
	}
	sum := sha256.Sum256([]byte("meridian-sticky\x00" + id))
	return hex.EncodeToString(sum[:12])
}

// appendSetCookie appends the Set-Cookie header line pinning the client to the backend
// whose sticky id is id.
func appendSetCookie(b []byte, s *Sticky, id string) []byte {
	b = append(b, "Set-Cookie: "...)
	b = append(b, s.Cookie...)
	b = append(b, '=')
	b = append(b, id...)
	b = append(b, "; Max-Age="...)
	b = strconv.AppendInt(b, int64(s.TTL.Seconds()), 10)
	b = append(b, "; Path=/; HttpOnly\r\n"...)
	return b
}

// stickyIndex returns the index of the route's own backend whose id the client's cookie
// names, or -1 (a spilled request is never pinned).
func (c *route) stickyIndex(req request) int {
	v, ok := req.cookie(c.r.Sticky.Cookie)
	if !ok {
		return -1
	}
	for i, id := range c.stickyIDs[:len(c.r.Backends)] {
		if id == v {
			return i
		}
	}
	return -1
}
