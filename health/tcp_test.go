package health

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestTCP(t *testing.T) {
	closeAtOnce := serveTCP(t, func(net.Conn) {})
	echo := serveTCP(t, func(c net.Conn) { // echoes lines, keeps the connection open
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			io.WriteString(c, line)
		}
	})
	banner := serveTCP(t, func(c net.Conn) { io.WriteString(c, "220 mx.example ready\r\n") })
	silent := serveTCP(t, func(c net.Conn) { io.Copy(io.Discard, c) })

	short := 150 * time.Millisecond
	tests := []struct {
		name    string
		addr    netip.AddrPort // zero: a closed port
		mon     Monitor
		wantErr string
	}{
		{name: "connect", addr: closeAtOnce},
		{name: "refused", wantErr: "connect: connection refused"},
		{name: "send expect", addr: echo, mon: Monitor{Send: "PING\r\n", Expect: "PING"}},
		{name: "send expect mismatch times out", addr: echo, mon: Monitor{Send: "PING\r\n", Expect: "PONG", Timeout: short},
			wantErr: `timeout after 150ms: reply does not contain "PONG"`},
		{name: "banner", addr: banner, mon: Monitor{Expect: "220 "}},
		{name: "banner mismatch, closed", addr: banner, mon: Monitor{Expect: "+OK"}, wantErr: `reply does not contain "+OK"`},
		{name: "send only", addr: silent, mon: Monitor{Send: "hello\n"}},
		{name: "never answers", addr: silent, mon: Monitor{Send: "hello\n", Expect: "hi", Timeout: short},
			wantErr: `timeout after 150ms: reply does not contain "hi"`},
	}
	p := NewTCP()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.mon.Kind = "tcp"
			tg := Target{ID: "p/" + tc.name, Addr: tc.addr, Monitor: &tc.mon}
			if !tg.Addr.IsValid() {
				tg.Addr = closedPort(t)
			}
			checkResult(t, p.Probe(t.Context(), tg), tc.wantErr)
		})
	}
}
