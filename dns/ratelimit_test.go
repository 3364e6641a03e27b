package dns_test

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dns/dnstest"
)

// flood sends n queries for qname from a socket bound to from, as fast as the loop goes, and
// counts the replies: full answers, truncated (slipped) ones and BADCOOKIE ones.
func flood(t *testing.T, server netip.AddrPort, from string, qname string, n int, cookie string) (answers, slipped, badcookie int) {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(from)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := dnstest.Msg(qname, mdns.TypeA)
	m.SetEdns0(1232, false)
	if cookie != "" {
		m.IsEdns0().Option = append(m.IsEdns0().Option, &mdns.EDNS0_COOKIE{Code: mdns.EDNS0COOKIE, Cookie: cookie})
	}
	wire, _ := m.Pack()
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			var r mdns.Msg
			if r.Unpack(buf[:k]) != nil {
				continue
			}
			switch {
			case r.Rcode == 23:
				badcookie++
			case r.Truncated && len(r.Answer) == 0:
				slipped++
			case len(r.Answer) > 0:
				answers++
			}
		}
	}()
	dst := net.UDPAddrFromAddrPort(server)
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < n && time.Now().Before(deadline); i++ {
		if _, err := c.WriteToUDP(wire, dst); err != nil {
			t.Fatal(err)
		}
		if i%64 == 63 {
			time.Sleep(100 * time.Microsecond) // keep the socket buffers from overflowing
		}
	}
	<-done
	return answers, slipped, badcookie
}

// TestRateLimit: a flood from one /24 gets about responses_per_second full answers a second,
// every second limited reply slipped (TC) and the rest dropped, while another /24's queries all
// succeed; a client with a valid server cookie is never limited, one with a bad server cookie
// gets BADCOOKIE.
func TestRateLimit(t *testing.T) {
	addr := cookieNode(t, testSecret, "secret_file = \"secret.txt\"\n\n[server.rrl]\nresponses_per_second = 10\nwindow = \"5s\"\nslip = 2")
	// Another network at a normal rate (under 10/s), during the flood: every query answered.
	otherErr := make(chan error, 1)
	go func() {
		c := mdns.Client{Net: "udp", Timeout: time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP("127.0.1.1")}}}
		// A query that times out is tried again, as a resolver would: under the flood the
		// server's socket buffer can be full and the kernel drops the datagram before the
		// limiter sees it (1 run in 5 under -race). A limited reply to this network would be
		// TC on every second one (slip = 2) and fails at once, retried or not.
		retries := 0
		for i := range 12 {
			var r *mdns.Msg
			var err error
			for try := 0; try < 3; try++ {
				if r, _, err = c.Exchange(dnstest.Msg("www.example.test.", mdns.TypeA), addr.String()); !isTimeout(err) {
					break
				}
				retries++
			}
			if err != nil || len(r.Answer) != 1 || r.Truncated {
				otherErr <- fmt.Errorf("query %d from another /24 during the flood (%d retries so far): %v %v", i, retries, r, err)
				return
			}
			time.Sleep(150 * time.Millisecond)
		}
		t.Logf("another /24 during the flood: 12 answers, %d timeouts retried", retries)
		otherErr <- nil
	}()
	// A spoofed-source flood from one /24: 50,000 queries within 5 s.
	start := time.Now()
	answers, slipped, _ := flood(t, addr, "127.0.0.1", "www.example.test.", 50000, "")
	took := time.Since(start)
	t.Logf("flood of 50000 from 127.0.0.1 in %v: %d answers, %d slipped", took.Round(time.Millisecond), answers, slipped)
	if limit := 10 + 10*int(took.Seconds()+1); answers > limit || answers == 0 {
		t.Errorf("%d full answers to the flood, want at most %d (10/s over %v, plus the first 10)", answers, limit, took)
	}
	if slipped < 1000 {
		t.Errorf("%d slipped replies, want every second limited one (about half of those it read)", slipped)
	}
	if err := <-otherErr; err != nil {
		t.Error(err)
	}
	// A valid server cookie: never limited (the client cannot be a spoofed source).
	first := ask(t, addr, "www.example.test.", mdns.TypeA, "0102030405060708") // maybe limited: the cookie comes in any reply
	cookie := replyCookie(first)
	if cookie == "" {
		t.Fatalf("no cookie in %v", first)
	}
	answers, slipped, badcookie := flood(t, addr, "127.0.0.1", "www.example.test.", 500, cookie)
	// UDP on a loaded machine loses some replies; the limit would allow about 20 answers.
	if answers < 150 || slipped+badcookie > 0 {
		t.Errorf("a client with a valid server cookie: %d answers, %d slipped, %d BADCOOKIE of 500; want it never limited", answers, slipped, badcookie)
	}
	// A client cookie alone, over the limit: BADCOOKIE with a fresh cookie, not a drop.
	_, _, badcookie = flood(t, addr, "127.0.0.1", "www.example.test.", 200, "1112131415161718")
	if badcookie < 50 {
		t.Errorf("%d BADCOOKIE replies to a limited client with a client cookie only, want most of 200 (some UDP may be lost)", badcookie)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
