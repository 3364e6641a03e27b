package health

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// serveDNS runs a miekg/dns UDP server on 127.0.0.1:0 and returns once it is serving.
func serveDNS(t *testing.T, h dns.HandlerFunc) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(started) }}
	done := make(chan struct{})
	go func() { defer close(done); srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { srv.Shutdown(); <-done })
	return addrPort(t, pc.LocalAddr())
}

func TestDNS(t *testing.T) {
	auth := serveDNS(t, func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if q := r.Question[0]; q.Name == "ok.example." && q.Qtype == dns.TypeA {
			rr, _ := dns.NewRR("ok.example. 60 IN A 192.0.2.1")
			m.Answer = append(m.Answer, rr)
		} else if q.Name != "ok.example." {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})
	silent, err := net.ListenPacket("udp", "127.0.0.1:0") // reads nothing, answers nothing
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	closed, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()

	tests := []struct {
		name    string
		addr    netip.AddrPort
		mon     Monitor
		wantErr string
	}{
		{name: "noerror", addr: auth, mon: Monitor{QName: "ok.example", QType: dns.TypeA}},
		{name: "answer", addr: auth, mon: Monitor{QName: "ok.example.", QType: dns.TypeA, ExpectAnswer: "192.0.2.1"}},
		{name: "answer mismatch", addr: auth, mon: Monitor{QName: "ok.example.", QType: dns.TypeA, ExpectAnswer: "192.0.2.9"},
			wantErr: `no answer contains "192.0.2.9" (1 answers)`},
		{name: "nodata has no answer", addr: auth, mon: Monitor{QName: "ok.example.", QType: dns.TypeMX, ExpectAnswer: "MX"},
			wantErr: `no answer contains "MX" (0 answers)`},
		{name: "rcode mismatch", addr: auth, mon: Monitor{QName: "nope.example.", QType: dns.TypeA}, wantErr: "rcode NXDOMAIN, want NOERROR"},
		{name: "expected nxdomain", addr: auth, mon: Monitor{QName: "nope.example.", QType: dns.TypeA, ExpectRcode: dns.RcodeNameError}},
		{name: "timeout", addr: addrPort(t, silent.LocalAddr()), mon: Monitor{QName: "ok.example.", Timeout: 100 * time.Millisecond}, wantErr: "timeout after 100ms"},
		{name: "port unreachable", addr: addrPort(t, closed.LocalAddr()), mon: Monitor{QName: "ok.example."}, wantErr: "read: connection refused"},
	}
	p := NewDNS()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.mon.Kind = "dns"
			checkResult(t, p.Probe(t.Context(), Target{ID: "p/" + tc.name, Addr: tc.addr, Monitor: &tc.mon}), tc.wantErr)
		})
	}
}

func TestProbers(t *testing.T) {
	ps := Probers()
	for _, k := range []string{"http", "https", "tcp", "dns"} {
		if ps[k] == nil {
			t.Errorf("Probers()[%q] = nil, want a prober", k)
		}
	}
	if len(ps) != 4 {
		t.Errorf("len(Probers()) = %d, want 4", len(ps))
	}
}
