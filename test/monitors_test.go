package test

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// TestTCPAndDNSMonitors: endpoints checked by tcp (send/expect) and dns (answer) monitors leave
// the answers when their backend stops answering correctly, and come back when it does again.
func TestTCPAndDNSMonitors(t *testing.T) {
	// A TCP backend that answers PING with PONG until told to answer wrongly.
	var mu sync.Mutex
	tcpReply := "PONG\n"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(time.Second))
				if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
					return
				}
				mu.Lock()
				r := tcpReply
				mu.Unlock()
				_, _ = c.Write([]byte(r))
			}()
		}
	}()
	// A DNS backend whose TXT answer the dns monitor expects to contain "ok".
	dnsTXT := "status ok"
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		mu.Lock()
		txt := dnsTXT
		mu.Unlock()
		m.Answer = append(m.Answer, &mdns.TXT{Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeTXT, Class: mdns.ClassINET, Ttl: 1}, Txt: []string{txt}})
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })

	dir := t.TempDir()
	p := freePorts(t)
	path := writeConfig(t, dir, "monitors.toml.tmpl", healthVars{ports: p, Backends: []string{ln.Addr().String(), pc.LocalAddr().String()}})
	startNode(t, dir, p, "serve", "-c", path)
	answerIs := func(name, want, why string) {
		t.Helper()
		deadline := time.Now().Add(4 * time.Second)
		for {
			got := strings.TrimSpace(dig(t, "127.0.0.1", p.DNS, "+short", name, "A"))
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s answered %q, want %q", why, name, got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	answerIs("tcp.example.test", "127.0.5.1", "tcp backend answering PONG")
	answerIs("dns.example.test", "127.0.6.1", "dns backend answering ok")

	mu.Lock()
	tcpReply, dnsTXT = "NOPE\n", "status down"
	mu.Unlock()
	answerIs("tcp.example.test", "127.0.7.1", "tcp backend answering wrongly: fail over to spare")
	answerIs("dns.example.test", "127.0.7.1", "dns backend answering wrongly: fail over to spare")

	mu.Lock()
	tcpReply, dnsTXT = "PONG\n", "status ok"
	mu.Unlock()
	answerIs("tcp.example.test", "127.0.5.1", "tcp backend fixed")
	answerIs("dns.example.test", "127.0.6.1", "dns backend fixed")
}
