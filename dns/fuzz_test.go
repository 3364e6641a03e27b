package dns

import (
	"testing"

	mdns "github.com/miekg/dns"
)

// FuzzRespond: no input makes the handler panic, and every reply parses, carries the query's ID
// and is a response that fits the transport's limit.
func FuzzRespond(f *testing.F) {
	for _, q := range fastQueries(f) {
		f.Add(q, false)
	}
	for _, q := range []*mdns.Msg{
		func() *mdns.Msg {
			m := new(mdns.Msg)
			m.SetQuestion("big.example.test.", mdns.TypeTXT)
			m.SetEdns0(4096, true)
			return m
		}(),
		func() *mdns.Msg {
			m := new(mdns.Msg)
			m.SetQuestion("id.server.", mdns.TypeTXT)
			m.Question[0].Qclass = mdns.ClassCHAOS
			return m
		}(),
		func() *mdns.Msg {
			m := new(mdns.Msg)
			m.SetQuestion("www.example.test.", mdns.TypeA)
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &mdns.EDNS0_NSID{Code: mdns.EDNS0NSID}, &mdns.EDNS0_SUBNET{Code: mdns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: []byte{192, 0, 2, 0}})
			return m
		}(),
	} {
		b, _ := q.Pack()
		f.Add(b, true)
	}
	f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1}, false)
	h := newTestHandler(f)
	f.Fuzz(func(t *testing.T, req []byte, tcp bool) {
		proto := UDP
		if tcp {
			proto = TCP
		}
		for range 2 { // the second time may take the fast path
			resp := h.Respond(make([]byte, 65535), req, proto, client)
			if resp == nil {
				continue
			}
			if len(req) < headerLen || req[0] != resp[0] || req[1] != resp[1] || resp[2]&0x80 == 0 {
				t.Fatalf("reply %x to %x: wrong ID or QR clear", resp, req)
			}
			if proto == UDP && len(resp) > 4096 {
				t.Fatalf("UDP reply of %d bytes", len(resp))
			}
			var m mdns.Msg
			if err := m.Unpack(resp); err != nil {
				t.Fatalf("reply does not parse: %v\nreq %x\nresp %x", err, req, resp)
			}
		}
	})
}
