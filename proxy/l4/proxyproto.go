package l4

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strconv"
)

// v2Sig is the 12-byte signature that starts a PROXY protocol v2 header.
var v2Sig = [12]byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

// writeProxyHeader sends the PROXY protocol header of version v (1 or 2) for a connection from
// src to dst, both *net.TCPAddr, in one write.
func writeProxyHeader(w *net.TCPConn, v byte, src, dst net.Addr) error {
	var buf [108]byte // the longest v1 line; v2 TCP6 needs 52
	b, err := appendProxyHeader(buf[:0], v, src, dst)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// appendProxyHeader appends the PROXY protocol header of version v (1 or 2) to b. Addresses
// of different families are both sent as IPv6 (IPv4-mapped).
func appendProxyHeader(b []byte, v byte, src, dst net.Addr) ([]byte, error) {
	s, ok1 := src.(*net.TCPAddr)
	d, ok2 := dst.(*net.TCPAddr)
	if !ok1 || !ok2 {
		return b, errors.New("proxy protocol: not a TCP connection")
	}
	sip, dip := s.IP.To4(), d.IP.To4()
	v4 := sip != nil && dip != nil
	if !v4 {
		sip, dip = s.IP.To16(), d.IP.To16()
		if sip == nil || dip == nil {
			return b, errors.New("proxy protocol: bad address")
		}
	}
	if v == 1 {
		if v4 {
			b = append(b, "PROXY TCP4 "...)
		} else {
			b = append(b, "PROXY TCP6 "...)
		}
		sa, _ := netip.AddrFromSlice(sip) // 4 or 16 bytes: cannot fail
		da, _ := netip.AddrFromSlice(dip)
		b = sa.AppendTo(b)
		b = append(b, ' ')
		b = da.AppendTo(b)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(s.Port), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(d.Port), 10)
		return append(b, "\r\n"...), nil
	}
	b = append(b, v2Sig[:]...)
	b = append(b, 0x21) // version 2, command PROXY
	if v4 {
		b = append(b, 0x11) // AF_INET, STREAM
		b = binary.BigEndian.AppendUint16(b, 12)
	} else {
		b = append(b, 0x21) // AF_INET6, STREAM
		b = binary.BigEndian.AppendUint16(b, 36)
	}
	b = append(b, sip...)
	b = append(b, dip...)
	b = binary.BigEndian.AppendUint16(b, uint16(s.Port))
	return binary.BigEndian.AppendUint16(b, uint16(d.Port)), nil
}
