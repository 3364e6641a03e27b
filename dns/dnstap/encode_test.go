package dnstap

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	"google.golang.org/protobuf/proto"
)

// oldEncoder is the encoder appendFrame replaced, kept as the reference: golang-dnstap's
// generated types, filled and marshalled with proto.Marshal.
type oldEncoder struct {
	d   dnstap.Dnstap
	m   dnstap.Message
	buf []byte

	// The fields the messages point at.
	dtype        dnstap.Dnstap_Type
	mtype        dnstap.Message_Type
	family       dnstap.SocketFamily
	protocol     dnstap.SocketProtocol
	port         uint32
	addr         [16]byte
	qsec, rsec   uint64
	qnsec, rnsec uint32
	marshal      proto.MarshalOptions // AllowPartial: the required fields are always set
}

// encode returns the frame of e's query (query) or response message; it is valid until the
// next call.
func (c *oldEncoder) encode(e *Entry, query bool, m *meta) ([]byte, error) {
	c.dtype = dnstap.Dnstap_MESSAGE
	c.d.Type = &c.dtype
	c.d.Identity, c.d.Version = m.identity, m.version
	c.d.Extra = nil
	if len(e.Extra) > 0 {
		c.d.Extra = e.Extra
	}
	c.d.Message = &c.m

	c.mtype = dnstap.Message_AUTH_RESPONSE
	if query {
		c.mtype = dnstap.Message_AUTH_QUERY
	}
	c.m.Type = &c.mtype
	a := e.Client.Addr().Unmap()
	if a.Is4() {
		c.family = dnstap.SocketFamily_INET
		a4 := a.As4()
		copy(c.addr[:], a4[:])
		c.m.QueryAddress = c.addr[:4]
	} else {
		c.family = dnstap.SocketFamily_INET6
		c.addr = a.As16()
		c.m.QueryAddress = c.addr[:16]
	}
	c.m.SocketFamily = &c.family
	c.protocol = dnstap.SocketProtocol_UDP
	if e.TCP {
		c.protocol = dnstap.SocketProtocol_TCP
	}
	c.m.SocketProtocol = &c.protocol
	c.port = uint32(e.Client.Port())
	c.m.QueryPort = &c.port

	// The query time goes in both messages, so a response says how long it took (dnstap.proto).
	c.qsec, c.qnsec = uint64(e.QueryTime.Unix()), uint32(e.QueryTime.Nanosecond())
	c.m.QueryTimeSec, c.m.QueryTimeNsec = &c.qsec, &c.qnsec
	c.m.QueryMessage, c.m.ResponseMessage = nil, nil
	c.m.ResponseTimeSec, c.m.ResponseTimeNsec = nil, nil
	if query {
		c.m.QueryMessage = e.Query
	} else {
		c.rsec, c.rnsec = uint64(e.ResponseTime.Unix()), uint32(e.ResponseTime.Nanosecond())
		c.m.ResponseTimeSec, c.m.ResponseTimeNsec = &c.rsec, &c.rnsec
		c.m.ResponseMessage = e.Response
	}
	var err error
	c.marshal.AllowPartial = true
	c.buf, err = c.marshal.MarshalAppend(c.buf[:0], &c.d)
	return c.buf, err
}

func TestAppendFrame(t *testing.T) {
	query := bytes.Repeat([]byte{0xab}, 45)
	resp := bytes.Repeat([]byte{0xcd}, 300) // a length of two varint bytes
	qt := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	rt := qt.Add(37 * time.Microsecond)
	m := &meta{identity: []byte("node-a"), version: []byte("meridian test")}
	tests := []struct {
		name   string
		client string
		tcp    bool
		extra  string
		meta   *meta
	}{
		{"udp ipv4", "192.0.2.7:5300", false, "", m},
		{"udp ipv4 extra", "192.0.2.7:5300", false, "service=www.example.test. outcome=answer pools=west", m},
		{"tcp ipv4", "198.51.100.1:65535", true, "", m},
		{"udp ipv6 extra", "[2001:db8::1]:53000", false, "service=v6.example.test.", m},
		{"tcp ipv6", "[2001:db8:ffff::53]:1", true, "", m},
		{"mapped ipv4", "[::ffff:192.0.2.9]:5300", false, "x", m},
		{"empty identity", "192.0.2.7:0", false, "", &meta{identity: []byte{}, version: []byte("v")}},
		{"no identity or version", "192.0.2.7:5300", true, "e", &meta{}},
	}
	for _, tc := range tests {
		for _, isQuery := range []bool{true, false} {
			name := tc.name + map[bool]string{true: " AUTH_QUERY", false: " AUTH_RESPONSE"}[isQuery]
			t.Run(name, func(t *testing.T) {
				e := &Entry{Query: query, Response: resp, QueryTime: qt, ResponseTime: rt,
					Client: netip.MustParseAddrPort(tc.client), TCP: tc.tcp}
				prefix := []byte("previous frame")
				frame := appendFrame(prefix, e, isQuery, tc.meta, []byte(tc.extra))
				if !bytes.HasPrefix(frame, []byte("previous frame")) {
					t.Fatal("appendFrame did not append")
				}
				frame = frame[len(prefix):]
				if n := binary.BigEndian.Uint32(frame); int(n) != len(frame)-4 {
					t.Fatalf("frame length %d, want %d", n, len(frame)-4)
				}
				payload := frame[4:]

				var oe oldEncoder
				e.Extra = []byte(tc.extra)
				old, err := oe.encode(e, isQuery, tc.meta)
				if err != nil {
					t.Fatal(err)
				}
				want := new(dnstap.Dnstap)
				if err := proto.Unmarshal(old, want); err != nil {
					t.Fatal(err)
				}
				got := new(dnstap.Dnstap)
				if err := proto.Unmarshal(payload, got); err != nil {
					t.Fatalf("golang-dnstap cannot decode the frame: %v", err)
				}
				if !proto.Equal(got, want) {
					t.Errorf("decoded\n%v\nwant\n%v", got, want)
				}
				compareFields(t, got, want)
				if len(got.ProtoReflect().GetUnknown()) > 0 || len(got.GetMessage().ProtoReflect().GetUnknown()) > 0 {
					t.Error("the frame has fields dnstap.proto does not define")
				}
				if !bytes.Equal(payload, old) {
					t.Errorf("payload differs from the old encoder's:\n got %x\nwant %x", payload, old)
				}
			})
		}
	}
}

// compareFields compares every field appendFrame writes, by name, for a readable failure.
func compareFields(t *testing.T, got, want *dnstap.Dnstap) {
	t.Helper()
	g, w := got.GetMessage(), want.GetMessage()
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"type", got.GetType(), want.GetType()},
		{"identity", string(got.GetIdentity()), string(want.GetIdentity())},
		{"identity set", got.Identity != nil, want.Identity != nil},
		{"version", string(got.GetVersion()), string(want.GetVersion())},
		{"version set", got.Version != nil, want.Version != nil},
		{"extra", string(got.GetExtra()), string(want.GetExtra())},
		{"extra set", got.Extra != nil, want.Extra != nil},
		{"message.type", g.GetType(), w.GetType()},
		{"socket_family", g.GetSocketFamily(), w.GetSocketFamily()},
		{"socket_protocol", g.GetSocketProtocol(), w.GetSocketProtocol()},
		{"query_address", netip.AddrFrom16([16]byte(append(make([]byte, 16-len(g.GetQueryAddress())), g.GetQueryAddress()...))),
			netip.AddrFrom16([16]byte(append(make([]byte, 16-len(w.GetQueryAddress())), w.GetQueryAddress()...)))},
		{"query_address length", len(g.GetQueryAddress()), len(w.GetQueryAddress())},
		{"query_port", g.GetQueryPort(), w.GetQueryPort()},
		{"query_time_sec", g.GetQueryTimeSec(), w.GetQueryTimeSec()},
		{"query_time_nsec", g.GetQueryTimeNsec(), w.GetQueryTimeNsec()},
		{"query_message", string(g.GetQueryMessage()), string(w.GetQueryMessage())},
		{"response_time_sec set", g.ResponseTimeSec != nil, w.ResponseTimeSec != nil},
		{"response_time_sec", g.GetResponseTimeSec(), w.GetResponseTimeSec()},
		{"response_time_nsec", g.GetResponseTimeNsec(), w.GetResponseTimeNsec()},
		{"response_message", string(g.GetResponseMessage()), string(w.GetResponseMessage())},
		{"response_address set", g.ResponseAddress != nil, w.ResponseAddress != nil},
		{"response_port set", g.ResponsePort != nil, w.ResponsePort != nil},
		{"query_zone set", g.QueryZone != nil, w.QueryZone != nil},
	} {
		if f.got != f.want {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
}

// TestAppendFrameAllocs: encoding into a buffer with room allocates nothing.
func TestAppendFrameAllocs(t *testing.T) {
	e := &Entry{Query: make([]byte, 40), Response: make([]byte, 60), QueryTime: time.Now(), ResponseTime: time.Now(),
		Client: netip.MustParseAddrPort("[2001:db8::1]:5300")}
	m := &meta{identity: []byte("bench"), version: []byte("meridian devel")}
	buf := make([]byte, 0, 4096)
	extra := []byte("service=www.example.test.")
	if n := testing.AllocsPerRun(100, func() { buf = appendFrame(buf[:0], e, false, m, extra) }); n != 0 {
		t.Errorf("appendFrame: %v allocations, want 0", n)
	}
}
