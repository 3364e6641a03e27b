package dns

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns/cookie"
)

// DNS cookies (RFC 7873, server cookies as RFC 9018): a query with a COOKIE option gets a reply
// with the client's cookie and a fresh server cookie, on the fast path too (a prepared reply
// is copied with the option put into its OPT record). A server cookie we did not make, or one
// too old, counts as none (§5.2.3): the reply still carries a fresh one. A UDP reply larger than
// max_nocookie_response to a query without a valid server cookie is sent truncated.

// optionCookie is the EDNS option code of COOKIE.
const optionCookie = 10

// cookieOptLen is the COOKIE option we send: code, length, client and server cookie.
const cookieOptLen = 4 + cookie.ClientLen + cookie.ServerLen

// cookies is a snapshot's cookie settings; nil: cookies are off (the option is ignored).
type cookies struct {
	jar         *cookie.Jar
	maxNoCookie int // 0: no limit
}

// newCookies builds c's jar; random is the secret of a node that configures none (made once
// per process, so its cookies survive reloads).
func newCookies(c config.Cookies, random cookie.Secret) (*cookies, error) {
	if !c.Enabled {
		return nil, nil
	}
	cur := random
	var prev *cookie.Secret
	if c.SecretFile != "" {
		var err error
		if cur, err = readCookieSecret(c.SecretFile); err != nil {
			return nil, err
		}
	}
	if c.PreviousSecretFile != "" {
		p, err := readCookieSecret(c.PreviousSecretFile)
		if err != nil {
			return nil, err
		}
		prev = &p
	}
	return &cookies{jar: cookie.NewJar(cur, prev, nil), maxNoCookie: c.MaxNoCookieResponse}, nil
}

func readCookieSecret(path string) (cookie.Secret, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return cookie.Secret{}, fmt.Errorf("[server.cookies] %w", err)
	}
	s, err := cookie.ParseSecret(b) // trims surrounding whitespace itself
	if err != nil {
		return cookie.Secret{}, fmt.Errorf("[server.cookies] %s: %w", path, err)
	}
	return s, nil
}

// cookieState is what a query's COOKIE option asks of its reply.
type cookieState struct {
	present bool // a well-formed option, and cookies are on: the reply carries ours
	good    bool // with a valid server cookie of ours
	client  [cookie.ClientLen]byte
}

// check reads the option data opt (client cookie, then any server cookie) of a query from src;
// malformed says FORMERR (RFC 7873 §5.2.2).
func (c *cookies) check(opt []byte, src netip.Addr) (st cookieState, malformed bool) {
	if c == nil {
		return cookieState{}, false
	}
	client, v, _ := c.jar.Check(opt, src)
	if v == cookie.Malformed {
		return cookieState{}, true
	}
	return cookieState{present: true, good: v == cookie.Good, client: client}, false
}

// appendOption appends our COOKIE option for st to b: the client's cookie and a fresh server
// cookie (made anew each time: 60 ns, and the timestamp is always current).
func (c *cookies) appendOption(b []byte, st *cookieState, src netip.Addr) []byte {
	b = append(b, 0, optionCookie, 0, cookie.ClientLen+cookie.ServerLen)
	b = append(b, st.client[:]...)
	return c.jar.Make(b, st.client, src)
}

// limitFor is the largest UDP reply a query with st may get: max_nocookie_response unless it
// showed a valid server cookie; 0: no limit beyond the client's buffer.
func (c *cookies) limitFor(st *cookieState) int {
	if c == nil || st.good {
		return 0
	}
	return c.maxNoCookie
}

// findOPT returns, for a reply in wire form, the offset of its OPT record's RDLENGTH and the
// offset just past its RDATA; ok false when it has none (or is not well formed).
func findOPT(wire []byte) (rdlenOff, end int, ok bool) {
	eachRR(wire, func(typ uint16, off int, rdata []byte) bool {
		if typ == typeOPT {
			rdlenOff, end, ok = off, off+2+len(rdata), true
			return false
		}
		return true
	})
	return rdlenOff, end, ok
}
