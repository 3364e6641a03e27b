package dns_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns"
	"github.com/meridian-gslb/meridian/dns/dnstest"
)

const (
	xfrKey    = "xfr-key."
	xfrSecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="
)

// xfrConfig is a config with a signed zone (xfr.test), an unsigned one (open.test), one only
// 192.0.2.0/24 may copy (far.test) and one with no transfers (closed.test). extra is added to
// xfr.test's records; notify is its transfer's notify list.
func xfrConfig(t *testing.T, dir, extra, notify string) *config.Config {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "xfr.secret"), []byte(xfrSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf(`
[tsig.xfr-key]
secret_file = "xfr.secret"

[regions.r]
[pools.primary]
region = "r"
endpoints = [{ address = "192.0.2.10" }, { address = "192.0.2.11" }, { address = "192.0.2.12", enabled = false }, { address = "2001:db8::10" }]
[pools.standby]
region = "r"
endpoints = [{ address = "192.0.2.20" }]

[zones."xfr.test"]
ns = ["ns1"]
[zones."xfr.test".transfer]
allow = ["127.0.0.0/8"]
tsig_key = "xfr-key"
notify = [%s]
[[zones."xfr.test".records]]
name = "ns1"
type = "A"
data = "192.0.2.53"
[[zones."xfr.test".records]]
name = "mail"
type = "MX"
data = "10 mx"
%s
[zones."xfr.test".services.www]
pools = ["primary", "standby"]
answers = 1

[zones."open.test"]
ns = ["ns1.xfr.test."]
[zones."open.test".transfer]
allow = ["127.0.0.1"]
[[zones."open.test".records]]
name = "www"
type = "A"
data = "192.0.2.1"

[zones."far.test"]
ns = ["ns1.xfr.test."]
[zones."far.test".transfer]
allow = ["192.0.2.0/24"]

[zones."closed.test"]
ns = ["ns1.xfr.test."]
`, notify, extra)
	path := filepath.Join(dir, "meridian.toml")
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startXFR(t *testing.T, extra string) (netip.AddrPort, *dns.Handler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	h, err := dns.NewHandler(xfrConfig(t, t.TempDir(), extra, ""), dnstest.Logger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	return dnstest.Start(t, h, "127.0.0.1"), h, reg
}

// axfr runs a miekg/dns transfer (which checks every message's TSIG when key is set) and
// returns its records, or the error.
func axfr(t *testing.T, addr netip.AddrPort, m *mdns.Msg, key, secret string) ([]mdns.RR, error) {
	t.Helper()
	tr := &mdns.Transfer{DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second}
	if key != "" {
		tr.TsigSecret = map[string]string{key: secret}
		m.SetTsig(key, mdns.HmacSHA256, 300, time.Now().Unix())
	}
	ch, err := tr.In(m, addr.String())
	if err != nil {
		return nil, err
	}
	var rrs []mdns.RR
	for env := range ch {
		if env.Error != nil {
			return rrs, env.Error
		}
		rrs = append(rrs, env.RR...)
	}
	return rrs, nil
}

func axfrMsg(zone string, qtype uint16) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(zone, qtype)
	return m
}

func TestTransfer(t *testing.T) {
	addr, _, reg := startXFR(t, "")
	rrs, err := axfr(t, addr, axfrMsg("xfr.test.", mdns.TypeAXFR), xfrKey, xfrSecret)
	if err != nil {
		t.Fatalf("signed AXFR: %v", err)
	}
	var got []string
	for _, rr := range rrs {
		got = append(got, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	if len(rrs) < 2 || rrs[0].Header().Rrtype != mdns.TypeSOA || rrs[len(rrs)-1].Header().Rrtype != mdns.TypeSOA {
		t.Fatalf("transfer does not start and end with the SOA:\n%s", strings.Join(got, "\n"))
	}
	want := []string{
		"xfr.test. 300 IN NS ns1.xfr.test.",
		"mail.xfr.test. 300 IN MX 10 mx.xfr.test.",
		"ns1.xfr.test. 300 IN A 192.0.2.53",
		// The all-up answer: every enabled endpoint of the first pool, not the standby's.
		"www.xfr.test. 30 IN A 192.0.2.10",
		"www.xfr.test. 30 IN A 192.0.2.11",
		"www.xfr.test. 30 IN AAAA 2001:db8::10",
	}
	if mid := got[1 : len(got)-1]; !slices.Equal(mid, want) {
		t.Errorf("transferred records:\n%s\nwant:\n%s", strings.Join(mid, "\n"), strings.Join(want, "\n"))
	}

	tests := []struct {
		name        string
		zone        string
		qtype       uint16
		key, secret string
		network     string
		rcode       int
		tsigErr     uint16
	}{
		{"unsigned to a zone that needs the key", "xfr.test.", mdns.TypeAXFR, "", "", "tcp", mdns.RcodeRefused, 0},
		{"wrong secret", "xfr.test.", mdns.TypeAXFR, xfrKey, "d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmc=", "tcp", mdns.RcodeNotAuth, mdns.RcodeBadSig},
		{"unknown key", "xfr.test.", mdns.TypeAXFR, "other.", xfrSecret, "tcp", mdns.RcodeNotAuth, mdns.RcodeBadKey},
		{"source not allowed", "far.test.", mdns.TypeAXFR, "", "", "tcp", mdns.RcodeRefused, 0},
		{"zone without transfer", "closed.test.", mdns.TypeAXFR, "", "", "tcp", mdns.RcodeRefused, 0},
		{"not our zone", "example.org.", mdns.TypeAXFR, "", "", "tcp", mdns.RcodeNotAuth, 0},
		{"below a zone's apex", "www.open.test.", mdns.TypeAXFR, "", "", "tcp", mdns.RcodeNotAuth, 0},
		{"over udp", "open.test.", mdns.TypeAXFR, "", "", "udp", mdns.RcodeRefused, 0},
		{"ixfr over udp", "open.test.", mdns.TypeIXFR, "", "", "udp", mdns.RcodeRefused, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := axfrMsg(tc.zone, tc.qtype)
			if tc.key != "" {
				m.SetTsig(tc.key, mdns.HmacSHA256, 300, time.Now().Unix())
			}
			c := &mdns.Client{Net: tc.network, Timeout: 2 * time.Second}
			if tc.key != "" {
				c.TsigSecret = map[string]string{tc.key: tc.secret}
			}
			resp, _, err := c.Exchange(m, addr.String())
			if resp == nil {
				t.Fatalf("no reply: %v", err)
			}
			if resp.Rcode != tc.rcode || len(resp.Answer) != 0 {
				t.Errorf("rcode %s with %d answers, want %s with none", mdns.RcodeToString[resp.Rcode], len(resp.Answer), mdns.RcodeToString[tc.rcode])
			}
			if ts := resp.IsTsig(); tc.tsigErr != 0 && (ts == nil || ts.Error != tc.tsigErr || ts.MAC != "") {
				t.Errorf("TSIG %v, want error %s and no MAC", ts, mdns.RcodeToString[int(tc.tsigErr)])
			}
		})
	}

	t.Run("unsigned zone", func(t *testing.T) {
		rrs, err := axfr(t, addr, axfrMsg("open.test.", mdns.TypeAXFR), "", "")
		if err != nil || len(rrs) != 4 {
			t.Fatalf("AXFR open.test.: %d records, err %v; want SOA, NS, A, SOA", len(rrs), err)
		}
	})
	serial := rrs[0].(*mdns.SOA).Serial
	for _, tc := range []struct {
		name    string
		theirs  uint32
		records int
	}{
		{"ixfr from a current secondary is the soa alone", serial, 1},
		{"ixfr from a later serial is the soa alone", serial + 5, 1},
		{"ixfr from an older serial is the whole zone", serial - 1, len(rrs)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := axfrMsg("xfr.test.", mdns.TypeIXFR)
			m.Ns = []mdns.RR{&mdns.SOA{Hdr: mdns.RR_Header{Name: "xfr.test.", Rrtype: mdns.TypeSOA, Class: mdns.ClassINET}, Ns: ".", Mbox: ".", Serial: tc.theirs}}
			got, err := axfr(t, addr, m, xfrKey, xfrSecret)
			if err != nil || len(got) != tc.records {
				t.Fatalf("IXFR: %d records, err %v; want %d", len(got), err, tc.records)
			}
		})
	}
	// Labels sort by name: qtype, result, zone.
	if n := counter(t, reg, "meridian_dns_transfers_total", "AXFR", "ok", "xfr.test."); n != 1 {
		t.Errorf("transfers ok = %v, want 1", n)
	}
	if n := counter(t, reg, "meridian_dns_transfers_total", "AXFR", "refused", "far.test."); n != 1 {
		t.Errorf("transfers refused from far.test. = %v, want 1", n)
	}
	if probs, err := testutil.GatherAndLint(reg, "meridian_dns_transfers_total"); err != nil || len(probs) > 0 {
		t.Errorf("lint: %v %v", probs, err)
	}
}

// TestTransferManyMessages: a zone larger than one message goes out in several, each signed,
// chained to the one before (miekg/dns's client checks each).
func TestTransferManyMessages(t *testing.T) {
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, "[[zones.\"xfr.test\".records]]\nname = \"t%d\"\ntype = \"TXT\"\ndata = \"%s\"\n", i, strings.Repeat("x", 200))
	}
	addr, _, _ := startXFR(t, b.String())
	m := axfrMsg("xfr.test.", mdns.TypeAXFR)
	m.SetTsig(xfrKey, mdns.HmacSHA256, 300, time.Now().Unix())
	tr := &mdns.Transfer{TsigSecret: map[string]string{xfrKey: xfrSecret}, ReadTimeout: 2 * time.Second}
	ch, err := tr.In(m, addr.String())
	if err != nil {
		t.Fatal(err)
	}
	msgs, rrs := 0, 0
	for env := range ch {
		if env.Error != nil {
			t.Fatalf("message %d: %v", msgs, env.Error)
		}
		msgs++
		rrs += len(env.RR)
	}
	if want := 1000 + 8; msgs < 3 || rrs != want { // the TXT records, SOA NS MX A, www's A A AAAA, SOA
		t.Errorf("%d records in %d messages, want %d in more than two", rrs, msgs, want)
	}
}

// TestNotify: a reload that changes the zone raises its serial and NOTIFYs the secondary,
// signed, once it serves; a reload that changes nothing keeps the serial and sends none.
func TestNotify(t *testing.T) {
	notifies := make(chan *mdns.Msg, 10)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sec := &mdns.Server{PacketConn: pc, TsigSecret: map[string]string{xfrKey: xfrSecret}, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		resp := new(mdns.Msg).SetReply(r)
		if w.TsigStatus() != nil || r.IsTsig() == nil {
			resp.Rcode = mdns.RcodeNotAuth
			r = nil
		} else {
			resp.SetTsig(xfrKey, mdns.HmacSHA256, 300, time.Now().Unix())
		}
		_ = w.WriteMsg(resp)
		notifies <- r
	})}
	started := make(chan struct{})
	sec.NotifyStartedFunc = func() { close(started) }
	go func() { _ = sec.ActivateAndServe() }()
	t.Cleanup(func() { _ = sec.Shutdown() })
	<-started

	dir := t.TempDir()
	target := fmt.Sprintf("%q", pc.LocalAddr().String())
	reg := prometheus.NewRegistry()
	h, err := dns.NewHandler(xfrConfig(t, dir, "", target), dnstest.Logger(t), reg)
	if err != nil {
		t.Fatal(err)
	}
	addr := dnstest.Start(t, h, "127.0.0.1")
	first := waitNotify(t, notifies)
	if first == nil {
		t.Fatal("the first NOTIFY did not verify")
	}
	if first.Opcode != mdns.OpcodeNotify || first.Question[0].Name != "xfr.test." || len(first.Answer) != 1 {
		t.Fatalf("NOTIFY = %v, want opcode NOTIFY for xfr.test. with its SOA", first)
	}
	served := soaSerial(t, addr)
	if got := first.Answer[0].(*mdns.SOA).Serial; got != served {
		t.Errorf("NOTIFY serial %d, zone serves %d", got, served)
	}

	// Same content, reloaded a second later: the serial stays and nobody is told.
	time.Sleep(1100 * time.Millisecond) // the default serial is the load time in seconds
	if err := h.Reload(xfrConfig(t, dir, "", target)); err != nil {
		t.Fatal(err)
	}
	if got := soaSerial(t, addr); got != served {
		t.Errorf("serial after a reload that changes nothing = %d, want %d", got, served)
	}

	extra := "[[zones.\"xfr.test\".records]]\nname = \"new\"\ntype = \"A\"\ndata = \"192.0.2.99\"\n"
	if err := h.Reload(xfrConfig(t, dir, extra, target)); err != nil {
		t.Fatal(err)
	}
	next := waitNotify(t, notifies)
	if next == nil {
		t.Fatal("the second NOTIFY did not verify")
	}
	now := soaSerial(t, addr)
	if got := next.Answer[0].(*mdns.SOA).Serial; got != now || now <= served {
		t.Errorf("after a change: NOTIFY serial %d, served %d, want the same and above %d", got, now, served)
	}
	select {
	case m := <-notifies:
		t.Errorf("unexpected NOTIFY %v", m)
	case <-time.After(200 * time.Millisecond):
	}
	if n := counter(t, reg, "meridian_dns_notifies_total", "ok", "xfr.test."); n != 2 {
		t.Errorf("notifies ok = %v, want 2", n)
	}
}

func waitNotify(t *testing.T, ch <-chan *mdns.Msg) *mdns.Msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no NOTIFY within 5s")
		return nil
	}
}

func soaSerial(t *testing.T, addr netip.AddrPort) uint32 {
	t.Helper()
	resp := dnstest.Exchange(t, addr, "udp", dnstest.Msg("xfr.test.", mdns.TypeSOA))
	if len(resp.Answer) != 1 {
		t.Fatalf("SOA query: %v", resp)
	}
	return resp.Answer[0].(*mdns.SOA).Serial
}

// counter is the value of the series of metric name whose label values are values (0: none).
func counter(t *testing.T, reg *prometheus.Registry, name string, values ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetValue())
			}
			if slices.Equal(got, values) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestSignedQuery: a query signed with a known key (a secondary's SOA query) gets a signed
// reply over UDP and TCP; a bad signature gets NOTAUTH with the TSIG error.
func TestSignedQuery(t *testing.T) {
	addr, _, _ := startXFR(t, "")
	tests := []struct {
		name, network, secret string
		rcode                 int
		tsigErr               uint16
	}{
		{"udp", "udp", xfrSecret, mdns.RcodeSuccess, 0},
		{"tcp", "tcp", xfrSecret, mdns.RcodeSuccess, 0},
		{"bad signature", "udp", "d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmc=", mdns.RcodeNotAuth, mdns.RcodeBadSig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := dnstest.Msg("xfr.test.", mdns.TypeSOA)
			m.SetEdns0(1232, false)
			m.SetTsig(xfrKey, mdns.HmacSHA256, 300, time.Now().Unix())
			c := &mdns.Client{Net: tc.network, Timeout: 2 * time.Second, TsigSecret: map[string]string{xfrKey: tc.secret}}
			resp, _, err := c.Exchange(m, addr.String())
			if tc.tsigErr == 0 && err != nil {
				t.Fatalf("signed SOA query: %v", err) // the client checks the reply's signature
			}
			if resp == nil {
				t.Fatalf("no reply: %v", err)
			}
			if resp.Rcode != tc.rcode {
				t.Errorf("rcode %s, want %s", mdns.RcodeToString[resp.Rcode], mdns.RcodeToString[tc.rcode])
			}
			ts := resp.IsTsig()
			if ts == nil || ts.Error != tc.tsigErr {
				t.Errorf("reply TSIG %v, want one with error %d", ts, tc.tsigErr)
			}
			if tc.rcode == mdns.RcodeSuccess && (len(resp.Answer) != 1 || resp.Answer[0].Header().Rrtype != mdns.TypeSOA || !resp.Authoritative) {
				t.Errorf("answer %v, want the SOA, authoritative", resp.Answer)
			}
		})
	}
}
