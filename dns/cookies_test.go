package dns_test

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dns/dnstest"
)

const testSecret = "000102030405060708090a0b0c0d0e0f"

// cookieNode serves a copy of testdata/zone.toml with [server.cookies] extra (which may name
// secret.txt, holding secret), returning its address.
func cookieNode(t *testing.T, secret, extra string) netip.AddrPort {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile("testdata/zone.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A 4096-byte buffer, so the ~2.9 KB answer of big.example.test fits UDP but not 512 bytes.
	cfg := strings.Replace(string(b), "edns_buffer = 1232", "edns_buffer = 4096", 1)
	cfg = strings.Replace(cfg, "[zones.", "[server.cookies]\n"+extra+"\n\n[zones.", 1)
	path := filepath.Join(dir, "zone.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dnstest.Start(t, dnstest.Handler(t, path, nil), "127.0.0.1")
}

// ask sends qname/qtype over UDP with the COOKIE option data (hex; "" for none).
func ask(t *testing.T, addr netip.AddrPort, qname string, qtype uint16, cookie string) *mdns.Msg {
	t.Helper()
	m := dnstest.Msg(qname, qtype)
	m.SetEdns0(4096, false)
	if cookie != "" {
		m.IsEdns0().Option = append(m.IsEdns0().Option, &mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: cookie})
	}
	r, err := mdns.Exchange(m, addr.String())
	if err != nil && r == nil {
		t.Fatalf("%s: %v", qname, err)
	}
	return r
}

// replyCookie is the reply's COOKIE option data (hex), "" without one.
func replyCookie(r *mdns.Msg) string {
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if c, ok := o.(*mdns.EDNS0_COOKIE); ok {
				return c.Cookie
			}
		}
	}
	return ""
}

// TestCookies: a client cookie gets our server cookie back (on the fast path as on the slow,
// each client its own), a valid server cookie lifts max_nocookie_response, a forged one counts
// as none but gets a fresh valid one, a node with the same secret accepts it, and a malformed
// option is FORMERR.
func TestCookies(t *testing.T) {
	extra := "secret_file = \"secret.txt\"\nmax_nocookie_response = 512"
	a := cookieNode(t, testSecret, extra)
	b := cookieNode(t, testSecret, extra)
	other := cookieNode(t, "ffeeddccbbaa99887766554433221100", extra)

	// The same static name twice, with two client cookies: the second reply comes from the
	// prepared copy, with the second client's cookie in it.
	for _, cc := range []string{"0102030405060708", "1112131415161718"} {
		r := ask(t, a, "www.example.test.", mdns.TypeA, cc)
		got := replyCookie(r)
		if len(got) != 2*(8+16) || !strings.HasPrefix(got, cc) || got[16:18] != "01" {
			t.Fatalf("client cookie %s: reply cookie %q, want it echoed and a 16-byte version 1 server cookie", cc, got)
		}
		if len(r.Answer) != 1 || r.Rcode != mdns.RcodeSuccess {
			t.Fatalf("answer %v", r)
		}
	}
	if got := replyCookie(ask(t, a, "www.example.test.", mdns.TypeA, "")); got != "" {
		t.Errorf("a query without a cookie got one: %s", got)
	}

	// Without a valid server cookie the big answer is over max_nocookie_response: TC, nothing in it.
	first := ask(t, a, "big.example.test.", mdns.TypeTXT, "2122232425262728")
	if !first.Truncated || len(first.Answer) != 0 {
		t.Fatalf("no server cookie: TC %v with %d answers, want TC and none", first.Truncated, len(first.Answer))
	}
	server := replyCookie(first)
	// With it, the whole answer comes over UDP, from this node and from one with the same secret.
	for name, node := range map[string]netip.AddrPort{"the node that made it": a, "a node with the same secret": b} {
		r := ask(t, node, "big.example.test.", mdns.TypeTXT, server)
		if r.Truncated || len(r.Answer) == 0 {
			t.Errorf("%s: a valid server cookie still gets TC (%d answers)", name, len(r.Answer))
		}
	}
	// Another secret, or a forged cookie: as none (TC), with a fresh valid cookie back.
	raw, _ := hex.DecodeString(server)
	raw[len(raw)-1] ^= 1
	forged := hex.EncodeToString(raw)
	for name, tc := range map[string]struct {
		node   netip.AddrPort
		cookie string
	}{"another secret": {other, server}, "forged": {a, forged}} {
		r := ask(t, tc.node, "big.example.test.", mdns.TypeTXT, tc.cookie)
		if !r.Truncated || r.Rcode != mdns.RcodeSuccess {
			t.Errorf("%s: TC %v rcode %s, want TC and NOERROR (a bad server cookie counts as none)", name, r.Truncated, mdns.RcodeToString[r.Rcode])
		}
		fresh := replyCookie(r)
		if fresh == "" || fresh == tc.cookie || !strings.HasPrefix(fresh, server[:16]) {
			t.Errorf("%s: reply cookie %q, want a fresh one for the same client cookie", name, fresh)
		}
		if again := ask(t, tc.node, "big.example.test.", mdns.TypeTXT, fresh); again.Truncated {
			t.Errorf("%s: the fresh cookie is not valid on the node that gave it", name)
		}
	}

	// Malformed: a client cookie of 5 bytes, or a server cookie of 3.
	for _, bad := range []string{"0102030405", "0102030405060708aabbcc"} {
		if r := ask(t, a, "www.example.test.", mdns.TypeA, bad); r.Rcode != mdns.RcodeFormatError {
			t.Errorf("cookie %s: rcode %s, want FORMERR", bad, mdns.RcodeToString[r.Rcode])
		}
	}
}

// TestServiceCookies: the load-balanced answers written by the fast path, with and without ECS,
// carry the cookie too (on by default, with the node's own random secret).
func TestServiceCookies(t *testing.T) {
	addr, _, _ := startGSLB(t)
	for _, subnet := range []string{"", "81.2.69.0/24"} {
		m := ecsQuery(t, "geo.gslb.test.", mdns.TypeA, subnet)
		m.IsEdns0().Option = append(m.IsEdns0().Option, &mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: "3132333435363738"})
		r, err := mdns.Exchange(m, addr.String())
		if err != nil {
			t.Fatal(err)
		}
		if got := replyCookie(r); !bytes.HasPrefix([]byte(got), []byte("3132333435363738")) || len(got) != 48 || len(r.Answer) == 0 {
			t.Errorf("subnet %q: reply cookie %q, %d answers", subnet, got, len(r.Answer))
		}
		if subnet != "" && replyScope(t, r) < 0 {
			t.Errorf("subnet %q: the ECS option is gone beside the cookie", subnet)
		}
	}
}

// TestCookiesOff: with [server.cookies] enabled = false the option is ignored.
func TestCookiesOff(t *testing.T) {
	a := cookieNode(t, testSecret, "enabled = false")
	r := ask(t, a, "www.example.test.", mdns.TypeA, "0102030405060708")
	if got := replyCookie(r); got != "" || len(r.Answer) != 1 {
		t.Errorf("cookies off: reply cookie %q, %d answers", got, len(r.Answer))
	}
}
