package l4

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

// parsedHeader is what a test backend read from a PROXY protocol header.
type parsedHeader struct {
	src, dst netip.AddrPort
	family   string // "TCP4" or "TCP6"
	err      error
}

// readProxyHeader parses a v1 or v2 header the way a receiving server does.
func readProxyHeader(r *bufio.Reader) parsedHeader {
	sig, err := r.Peek(12)
	if err != nil {
		return parsedHeader{err: err}
	}
	if string(sig) != string(v2Sig[:]) {
		line, err := r.ReadString('\n')
		if err != nil {
			return parsedHeader{err: err}
		}
		var fam, src, dst string
		var sp, dp uint16
		if _, err := fmt.Sscanf(line, "PROXY %s %s %s %d %d\r\n", &fam, &src, &dst, &sp, &dp); err != nil {
			return parsedHeader{err: fmt.Errorf("v1 line %q: %w", line, err)}
		}
		s, err1 := netip.ParseAddr(src)
		d, err2 := netip.ParseAddr(dst)
		if err1 != nil || err2 != nil {
			return parsedHeader{err: fmt.Errorf("v1 addresses %q", line)}
		}
		return parsedHeader{family: fam, src: netip.AddrPortFrom(s, sp), dst: netip.AddrPortFrom(d, dp)}
	}
	var head [16]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return parsedHeader{err: err}
	}
	if head[12] != 0x21 {
		return parsedHeader{err: fmt.Errorf("v2 version/command %#x", head[12])}
	}
	body := make([]byte, binary.BigEndian.Uint16(head[14:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return parsedHeader{err: err}
	}
	var alen int
	var h parsedHeader
	switch head[13] {
	case 0x11:
		alen, h.family = 4, "TCP4"
	case 0x21:
		alen, h.family = 16, "TCP6"
	default:
		return parsedHeader{err: fmt.Errorf("v2 family %#x", head[13])}
	}
	if len(body) != 2*alen+4 {
		return parsedHeader{err: fmt.Errorf("v2 length %d", len(body))}
	}
	s, _ := netip.AddrFromSlice(body[:alen])
	d, _ := netip.AddrFromSlice(body[alen : 2*alen])
	h.src = netip.AddrPortFrom(s, binary.BigEndian.Uint16(body[2*alen:]))
	h.dst = netip.AddrPortFrom(d, binary.BigEndian.Uint16(body[2*alen+2:]))
	return h
}

// TestProxyProtocol parses the header at a real backend and checks it names the real client
// and listener addresses, and that the client's bytes follow it unchanged.
func TestProxyProtocol(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		tests := []struct {
			name, version, listen, family string
		}{
			{"v1 tcp4", "v1", "127.0.0.1:0", "TCP4"},
			{"v1 tcp6", "v1", "[::1]:0", "TCP6"},
			{"v2 tcp4", "v2", "127.0.0.1:0", "TCP4"},
			{"v2 tcp6", "v2", "[::1]:0", "TCP6"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				headers := make(chan parsedHeader, 1)
				b := startBackend(t, func(c *net.TCPConn) {
					r := bufio.NewReader(c)
					headers <- readProxyHeader(r)
					io.Copy(c, r)
				})
				s, _ := startProxy(t, Options{Engine: engine, Listen: tc.listen, ProxyProtocol: tc.version, Backends: []*balance.Upstream{b.up}})
				c := dial(t, s.Addr())
				roundTrip(t, c, "payload after the header")
				h := <-headers
				if h.err != nil {
					t.Fatalf("backend could not parse the header: %v", h.err)
				}
				if h.family != tc.family {
					t.Errorf("family = %s, want %s", h.family, tc.family)
				}
				if want := c.LocalAddr().(*net.TCPAddr).AddrPort(); h.src != want {
					t.Errorf("source = %v, want the client's %v", h.src, want)
				}
				if want := s.Addr().(*net.TCPAddr).AddrPort(); h.dst != want {
					t.Errorf("destination = %v, want the listener's %v", h.dst, want)
				}
			})
		}
	})
}

func TestProxyHeaderBytes(t *testing.T) {
	src := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 56324}
	dst := &net.TCPAddr{IP: net.IPv4(198, 51, 100, 7), Port: 443}
	got, err := appendProxyHeader(nil, 1, src, dst)
	if want := "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"; err != nil || string(got) != want {
		t.Errorf("v1 = %q, %v; want %q", got, err, want)
	}
	got, err = appendProxyHeader(nil, 2, src, dst)
	want := append(v2Sig[:], 0x21, 0x11, 0, 12, 192, 0, 2, 1, 198, 51, 100, 7, 0xdc, 0x04, 0x01, 0xbb)
	if err != nil || string(got) != string(want) {
		t.Errorf("v2 = % x, %v; want % x", got, err, want)
	}
	mixed := &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 80}
	got, err = appendProxyHeader(nil, 1, src, mixed)
	if want := "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::1 56324 80\r\n"; err != nil || string(got) != want {
		t.Errorf("v1 mixed families = %q, %v; want %q", got, err, want)
	}
}
