package dns_test

import (
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dns/dnstest"
)

func withEDNS(m *mdns.Msg, size uint16, do bool, opts ...mdns.EDNS0) *mdns.Msg {
	m.SetEdns0(size, do)
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, opts...)
	return m
}

func TestEDNS(t *testing.T) {
	h := dnstest.Handler(t, "testdata/zone.toml", nil)
	addr := dnstest.Start(t, h, "127.0.0.1")
	tests := []struct {
		name    string
		network string
		msg     *mdns.Msg
		check   func(t *testing.T, resp *mdns.Msg, size int)
	}{
		{"opt echoed with our buffer size and DO", "udp", withEDNS(dnstest.Msg("www.example.test.", mdns.TypeA), 4096, true),
			func(t *testing.T, resp *mdns.Msg, size int) {
				opt := resp.IsEdns0()
				if opt == nil {
					t.Fatal("no OPT in reply")
				}
				if opt.UDPSize() != 1232 || !opt.Do() || opt.Version() != 0 {
					t.Errorf("OPT size=%d do=%v version=%d, want 1232 true 0", opt.UDPSize(), opt.Do(), opt.Version())
				}
			}},
		{"no opt without edns", "udp", dnstest.Msg("www.example.test.", mdns.TypeA),
			func(t *testing.T, resp *mdns.Msg, size int) {
				if resp.IsEdns0() != nil {
					t.Error("OPT in reply to a query without EDNS")
				}
			}},
		{"edns version 1 gets BADVERS", "udp", func() *mdns.Msg {
			m := withEDNS(dnstest.Msg("www.example.test.", mdns.TypeA), 1232, false)
			m.IsEdns0().SetVersion(1)
			return m
		}(), func(t *testing.T, resp *mdns.Msg, size int) {
			if resp.Rcode != mdns.RcodeBadVers {
				t.Errorf("rcode = %s, want BADVERS", mdns.RcodeToString[resp.Rcode])
			}
			if opt := resp.IsEdns0(); opt == nil || opt.Version() != 0 {
				t.Errorf("want an OPT of version 0 in a BADVERS reply, got %v", opt)
			}
			if len(resp.Answer) != 0 {
				t.Errorf("BADVERS reply has %d answers", len(resp.Answer))
			}
		}},
		{"nsid names the node", "udp", withEDNS(dnstest.Msg("www.example.test.", mdns.TypeA), 1232, false, &mdns.EDNS0_NSID{Code: mdns.EDNS0NSID}),
			func(t *testing.T, resp *mdns.Msg, size int) {
				var got string
				for _, o := range resp.IsEdns0().Option {
					if n, ok := o.(*mdns.EDNS0_NSID); ok {
						got = n.Nsid
					}
				}
				if want := "746573742d6e6f6465"; got != want { // hex("test-node")
					t.Errorf("NSID = %q, want %q", got, want)
				}
			}},
		{"ecs echoed with scope 0 for a static answer", "udp",
			withEDNS(dnstest.Msg("www.example.test.", mdns.TypeA), 1232, false,
				&mdns.EDNS0_SUBNET{Code: mdns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("81.2.69.0").To4()}),
			func(t *testing.T, resp *mdns.Msg, size int) {
				var ecs *mdns.EDNS0_SUBNET
				for _, o := range resp.IsEdns0().Option {
					if e, ok := o.(*mdns.EDNS0_SUBNET); ok {
						ecs = e
					}
				}
				if ecs == nil {
					t.Fatal("ECS not echoed")
				}
				if ecs.SourceNetmask != 24 || ecs.SourceScope != 0 || !ecs.Address.Equal(net.ParseIP("81.2.69.0")) {
					t.Errorf("ECS = %v, want 81.2.69.0/24/0", ecs)
				}
				if len(resp.Answer) != 1 {
					t.Errorf("answers = %d, want 1", len(resp.Answer))
				}
			}},
		{"ecs with host bits beyond the prefix is FORMERR", "udp",
			withEDNS(dnstest.Msg("www.example.test.", mdns.TypeA), 1232, false,
				// Raw option bytes: miekg/dns would mask the address when packing an EDNS0_SUBNET.
				&mdns.EDNS0_LOCAL{Code: mdns.EDNS0SUBNET, Data: []byte{0, 1, 16, 0, 81, 2, 69}}),
			func(t *testing.T, resp *mdns.Msg, size int) {
				if resp.Rcode != mdns.RcodeFormatError {
					t.Errorf("rcode = %s, want FORMERR", mdns.RcodeToString[resp.Rcode])
				}
			}},
		{"ecs address shorter than its source prefix is FORMERR", "udp",
			withEDNS(dnstest.Msg("www.example.test.", mdns.TypeA), 1232, false,
				// /24 with two address bytes: miekg/dns would pad it to 81.2.0.0 and answer.
				&mdns.EDNS0_LOCAL{Code: mdns.EDNS0SUBNET, Data: []byte{0, 1, 24, 0, 81, 2}}),
			func(t *testing.T, resp *mdns.Msg, size int) {
				if resp.Rcode != mdns.RcodeFormatError {
					t.Errorf("rcode = %s, want FORMERR", mdns.RcodeToString[resp.Rcode])
				}
			}},
		{"ecs address longer than its source prefix is FORMERR", "udp",
			withEDNS(dnstest.Msg("www.example.test.", mdns.TypeA), 1232, false,
				&mdns.EDNS0_LOCAL{Code: mdns.EDNS0SUBNET, Data: []byte{0, 1, 16, 0, 81, 2, 0, 0}}),
			func(t *testing.T, resp *mdns.Msg, size int) {
				if resp.Rcode != mdns.RcodeFormatError {
					t.Errorf("rcode = %s, want FORMERR", mdns.RcodeToString[resp.Rcode])
				}
			}},
		{"big answer over udp with edns is truncated to the buffer", "udp", withEDNS(dnstest.Msg("big.example.test.", mdns.TypeTXT), 4096, false),
			func(t *testing.T, resp *mdns.Msg, size int) {
				if !resp.Truncated {
					t.Error("TC clear on an answer larger than 1232 bytes")
				}
				if len(resp.Answer)+len(resp.Ns) != 0 {
					t.Errorf("truncated reply carries %d answer and %d authority records, want none (no partial RRset)", len(resp.Answer), len(resp.Ns))
				}
				if n := size; n > 1232 {
					t.Errorf("reply is %d bytes, want <= 1232", n)
				}
			}},
		{"big answer over udp without edns fits 512", "udp", dnstest.Msg("big.example.test.", mdns.TypeTXT),
			func(t *testing.T, resp *mdns.Msg, size int) {
				if !resp.Truncated {
					t.Error("TC clear")
				}
				if n := size; n > 512 {
					t.Errorf("reply is %d bytes, want <= 512", n)
				}
			}},
		{"client buffer below 512 counts as 512", "udp", withEDNS(dnstest.Msg("big.example.test.", mdns.TypeTXT), 100, false),
			func(t *testing.T, resp *mdns.Msg, size int) {
				if n := size; n > 512 || !resp.Truncated || len(resp.Answer) != 0 {
					t.Errorf("reply is %d bytes, TC %v, %d answers; want at most 512, TC, none", n, resp.Truncated, len(resp.Answer))
				}
			}},
		{"a medium answer that fits 512 is not truncated for a tiny buffer", "udp", withEDNS(dnstest.Msg("www.example.test.", mdns.TypeA), 100, false),
			func(t *testing.T, resp *mdns.Msg, size int) {
				if resp.Truncated || len(resp.Answer) != 1 {
					t.Errorf("TC %v, %d answers; want the answer", resp.Truncated, len(resp.Answer))
				}
			}},
		{"big answer over tcp is complete", "tcp", withEDNS(dnstest.Msg("big.example.test.", mdns.TypeTXT), 1232, false),
			func(t *testing.T, resp *mdns.Msg, size int) {
				if resp.Truncated || len(resp.Answer) != 31 {
					t.Errorf("TC=%v answers=%d, want false 31", resp.Truncated, len(resp.Answer))
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, size := dnstest.ExchangeWire(t, addr, tc.network, tc.msg)
			tc.check(t, resp, size)
		})
	}
}

func TestQueryNameCasePreserved(t *testing.T) {
	h := dnstest.Handler(t, "testdata/zone.toml", nil)
	addr := dnstest.Start(t, h, "127.0.0.1")
	for _, qname := range []string{"WwW.ExAmple.TEST.", "www.example.test.", "WWW.EXAMPLE.TEST.", "wWw.eXaMpLe.TeSt."} {
		for range 2 { // slow path, then fast path
			resp := dnstest.Exchange(t, addr, "udp", dnstest.Msg(qname, mdns.TypeA))
			if got := resp.Question[0].Name; got != qname {
				t.Errorf("question = %q, want %q", got, qname)
			}
			if len(resp.Answer) != 1 || resp.Answer[0].Header().Name != qname {
				t.Errorf("answer = %v, want owner %q", resp.Answer, qname)
			}
		}
	}
}

func TestOpcodesAndQuestionCounts(t *testing.T) {
	h := dnstest.Handler(t, "testdata/zone.toml", nil)
	addr := dnstest.Start(t, h, "127.0.0.1")
	tests := []struct {
		name  string
		msg   func() *mdns.Msg
		rcode int
	}{
		{"status is notimp", func() *mdns.Msg {
			m := dnstest.Msg("www.example.test.", mdns.TypeA)
			m.Opcode = mdns.OpcodeStatus
			return m
		}, mdns.RcodeNotImplemented},
		{"notify is notimp", func() *mdns.Msg {
			m := dnstest.Msg("example.test.", mdns.TypeSOA)
			m.Opcode = mdns.OpcodeNotify
			return m
		}, mdns.RcodeNotImplemented},
		{"update is notimp", func() *mdns.Msg {
			m := dnstest.Msg("example.test.", mdns.TypeSOA)
			m.Opcode = mdns.OpcodeUpdate
			return m
		}, mdns.RcodeNotImplemented},
		{"no question is formerr", func() *mdns.Msg { m := dnstest.Msg("www.example.test.", mdns.TypeA); m.Question = nil; return m }, mdns.RcodeFormatError},
		{"two questions is formerr", func() *mdns.Msg {
			m := dnstest.Msg("www.example.test.", mdns.TypeA)
			m.Question = append(m.Question, mdns.Question{Name: "www.example.test.", Qtype: mdns.TypeAAAA, Qclass: mdns.ClassINET})
			return m
		}, mdns.RcodeFormatError},
	}
	for _, tc := range tests {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				m := tc.msg()
				wire, err := m.Pack()
				if err != nil {
					t.Fatal(err)
				}
				resp := rawExchange(t, addr.String(), network, wire)
				if resp == nil {
					t.Fatal("no reply")
				}
				if resp.Id != m.Id || !resp.Response {
					t.Errorf("id=%d QR=%v, want id %d and QR", resp.Id, resp.Response, m.Id)
				}
				if resp.Rcode != tc.rcode {
					t.Errorf("rcode = %s, want %s", mdns.RcodeToString[resp.Rcode], mdns.RcodeToString[tc.rcode])
				}
			})
		}
	}
}

func TestMalformedPackets(t *testing.T) {
	h := dnstest.Handler(t, "testdata/zone.toml", nil)
	addr := dnstest.Start(t, h, "127.0.0.1")
	good, _ := dnstest.Msg("www.example.test.", mdns.TypeA).Pack()
	tests := []struct {
		name      string
		wire      []byte
		wantReply bool // FORMERR; otherwise silence
	}{
		{"empty", nil, false},
		{"short header", []byte{1, 2, 3}, false},
		{"header only, claims a question", append([]byte(nil), good[:12]...), true},
		{"truncated question", good[:len(good)-3], true},
		{"label runs past the end", append(append([]byte(nil), good[:12]...), 60, 'a', 'b'), true},
		{"compression loop", append(append([]byte(nil), good[:12]...), 0xc0, 12, 0, 1, 0, 1), true},
		{"a response is never answered", func() []byte { b := append([]byte(nil), good...); b[2] |= 0x80; return b }(), false},
		{"garbage", []byte("GET / HTTP/1.1\r\nHost: example\r\n\r\n"), true},
		// miekg/dns shortens a count to the records it finds; the header's promise is checked.
		{"every count 65535, no records", []byte{0, 7, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, true},
		{"one question, counts 65535", func() []byte {
			b := append([]byte(nil), good...)
			b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11] = 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
			return b
		}(), true},
		{"two questions promised, one present", func() []byte { b := append([]byte(nil), good...); b[5] = 2; return b }(), true},
		{"an additional record promised, none present", func() []byte { b := append([]byte(nil), good...); b[11] = 1; return b }(), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := rawExchange(t, addr.String(), "udp", tc.wire)
			if tc.wantReply {
				if resp == nil {
					t.Fatal("no reply, want FORMERR")
				}
				if resp.Rcode != mdns.RcodeFormatError {
					t.Errorf("rcode = %s, want FORMERR", mdns.RcodeToString[resp.Rcode])
				}
			} else if resp != nil {
				t.Errorf("got a reply %v, want silence", resp)
			}
			// The server still answers.
			if r := dnstest.Exchange(t, addr, "udp", dnstest.Msg("www.example.test.", mdns.TypeA)); len(r.Answer) != 1 {
				t.Errorf("after %s: answers = %d, want 1", tc.name, len(r.Answer))
			}
		})
	}
}

// TestZeroZones: a config without zones is a valid state in which every question is REFUSED
// (CHAOS still names the node); it must never panic, whatever the name's depth.
func TestZeroZones(t *testing.T) {
	for _, path := range []string{"testdata/nozones.toml", "testdata/empty.toml"} {
		t.Run(path, func(t *testing.T) {
			addr := dnstest.Start(t, dnstest.Handler(t, path, nil), "127.0.0.1")
			for _, q := range []struct {
				name  string
				qtype uint16
			}{{".", mdns.TypeNS}, {"test.", mdns.TypeSOA}, {"www.example.test.", mdns.TypeA}, {"a.b.c.d.e.f.g.", mdns.TypeAAAA}} {
				for _, network := range []string{"udp", "tcp"} {
					resp := dnstest.Exchange(t, addr, network, dnstest.Msg(q.name, q.qtype))
					if resp.Rcode != mdns.RcodeRefused {
						t.Errorf("%s %s over %s: rcode = %s, want REFUSED", q.name, mdns.TypeToString[q.qtype], network, mdns.RcodeToString[resp.Rcode])
					}
				}
			}
		})
	}
}

// rawExchange sends wire as one query and returns the parsed reply, or nil after a short wait.
func rawExchange(t *testing.T, addr, network string, wire []byte) *mdns.Msg {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	co := &mdns.Conn{Conn: c}
	if _, err := co.Write(wire); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	b, err := co.ReadMsgHeader(nil)
	if err != nil {
		return nil
	}
	m := new(mdns.Msg)
	if err := m.Unpack(b); err != nil {
		// A header-only FORMERR unpacks fine; anything else is a bug.
		t.Fatalf("reply does not parse: %v", err)
	}
	return m
}
