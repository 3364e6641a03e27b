package l4

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/netip"
	"testing"
)

// FuzzProxyProtocol: Meridian only writes PROXY protocol headers (to backends); it reads none
// from outside. So this fuzzes the writer over arbitrary addresses and ports, round-tripping
// each header through the test backends' parser (readProxyHeader): the header has the
// length the spec allows, names the addresses and ports it was given (both as IPv6 when the
// families differ), and the bytes after it arrive unchanged. The raw input is also fed to
// readProxyHeader, which must not panic on it.
func FuzzProxyProtocol(f *testing.F) {
	v4a, v4b := []byte{192, 0, 2, 1}, []byte{198, 51, 100, 7}
	v6a := netip.MustParseAddr("2001:db8::1").AsSlice()
	v6b := netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").AsSlice()
	mapped := netip.MustParseAddr("::ffff:10.0.0.1").AsSlice()
	for _, v := range []byte{1, 2} {
		f.Add(v, v4a, v4b, uint16(56324), uint16(443), []byte("GET / HTTP/1.1\r\n\r\n"))
		f.Add(v, v6a, v6b, uint16(65535), uint16(0), []byte{})
		f.Add(v, v4a, v6a, uint16(1), uint16(80), []byte("payload"))
		f.Add(v, mapped, v4b, uint16(8080), uint16(8443), []byte("\r\n\r\n\x00\r\nQUIT\n"))
		f.Add(v, []byte{1, 2, 3}, v4b, uint16(1), uint16(2), []byte{})
	}
	f.Add(byte(1), v4a, v4b, uint16(1), uint16(2), []byte("PROXY TCP4 1.2.3.4 5.6.7.8 9 10\r\n"))
	f.Add(byte(2), v4a, v4b, uint16(1), uint16(2), append(v2Sig[:], 0x21, 0x11, 0xff, 0xff))
	f.Fuzz(func(t *testing.T, v byte, src, dst []byte, sport, dport uint16, tail []byte) {
		readProxyHeader(bufio.NewReader(bytes.NewReader(tail))) // must not panic

		v = 1 + v%2 // the server sends only v1 or v2
		sa, ok1 := netip.AddrFromSlice(src)
		da, ok2 := netip.AddrFromSlice(dst)
		s := &net.TCPAddr{IP: net.IP(src), Port: int(sport)}
		d := &net.TCPAddr{IP: net.IP(dst), Port: int(dport)}
		hdr, err := appendProxyHeader(nil, v, s, d)
		if !ok1 || !ok2 {
			if err == nil {
				t.Fatalf("v%d header for addresses %x, %x: %q, want an error", v, src, dst, hdr)
			}
			return
		}
		if err != nil {
			t.Fatalf("v%d header for %v:%d, %v:%d: %v", v, sa, sport, da, dport, err)
		}

		family := "TCP4"
		wantSrc, wantDst := sa.Unmap(), da.Unmap()
		if !wantSrc.Is4() || !wantDst.Is4() {
			family = "TCP6"
			wantSrc, wantDst = netip.AddrFrom16(sa.As16()), netip.AddrFrom16(da.As16())
		}
		switch {
		case v == 1 && len(hdr) > 107: // the spec's longest line, CRLF included
			t.Fatalf("v1 header of %d bytes: %q", len(hdr), hdr)
		case v == 2 && family == "TCP4" && len(hdr) != 16+12, v == 2 && family == "TCP6" && len(hdr) != 16+36:
			t.Fatalf("v2 %s header of %d bytes: % x", family, len(hdr), hdr)
		}

		r := bufio.NewReader(io.MultiReader(bytes.NewReader(hdr), bytes.NewReader(tail)))
		got := readProxyHeader(r)
		want := parsedHeader{family: family, src: netip.AddrPortFrom(wantSrc, sport), dst: netip.AddrPortFrom(wantDst, dport)}
		if got != want {
			t.Fatalf("v%d header %q reads as %+v, want %+v", v, hdr, got, want)
		}
		if rest, err := io.ReadAll(r); err != nil || !bytes.Equal(rest, tail) {
			t.Fatalf("after the header: %q, %v; want %q", rest, err, tail)
		}
	})
}
