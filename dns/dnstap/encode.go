package dnstap

import (
	dnstap "github.com/dnstap/golang-dnstap"
	"google.golang.org/protobuf/proto"
)

// encoder turns entries into dnstap protobuf frames, reusing its messages and buffer: the writer
// goroutine allocates nothing per message.
type encoder struct {
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
func (c *encoder) encode(e *Entry, query bool, m *meta) ([]byte, error) {
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
