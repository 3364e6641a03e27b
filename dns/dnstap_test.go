package dns

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dnstappb "github.com/dnstap/golang-dnstap"
	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns/dnstap"
)

// tappedHandler serves the GSLB fixture with [server.dnstap] table appended.
func tappedHandler(t *testing.T, table string) (*Handler, *prometheus.Registry) {
	t.Helper()
	path := writeGSLB(t)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, "\n[server.dnstap]\n"+table+"\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	h, err := NewHandler(cfg, newTestLogger(), reg, WithDnstap(dnstap.NewMetrics(reg), "meridian test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.CloseDnstap)
	return h, reg
}

func readTap(t *testing.T, path string) []*dnstappb.Dnstap {
	t.Helper()
	in, err := dnstappb.NewFrameStreamInputFromFilename(path)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan []byte, 1000)
	in.ReadInto(ch)
	close(ch)
	var out []*dnstappb.Dnstap
	for f := range ch {
		d := new(dnstappb.Dnstap)
		if err := proto.Unmarshal(f, d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func TestDnstapExtra(t *testing.T) {
	file := filepath.Join(t.TempDir(), "q.dnstap")
	h, _ := tappedHandler(t, "file = \""+file+"\"")
	client := netip.MustParseAddrPort("127.0.0.1:5300")
	tests := []struct {
		name, qname string
		subnet      string
		proto       Proto
		want        []string // in the Extra; none: no Extra
	}{
		{"fast path, ECS located", "geo.gslb.test.", "81.2.69.0/24", UDP, []string{"service=geo.gslb.test. outcome=answer pools=eu region=eu ", " source=ecs scope=20"}},
		{"fast path, not located", "geo.gslb.test.", "", UDP, []string{"service=geo.gslb.test. outcome=answer pools=na region=na ", " source=socket"}},
		{"operator net", "geo.gslb.test.", "81.2.69.128/25", TCP, []string{"service=geo.gslb.test. outcome=answer pools=ap region=ap client=region:ap source=ecs scope=25"}},
		{"slow path, CNAME to a service", "alias.gslb.test.", "", UDP, []string{"service=alias-target.gslb.test. outcome=answer pools=eu region=eu source=socket"}},
		{"static name", "ns1.gslb.test.", "", UDP, nil},
		{"every endpoint disabled", "dark.gslb.test.", "", UDP, []string{"service=dark.gslb.test. outcome="}},
	}
	for i, tc := range tests {
		m := new(mdns.Msg)
		m.SetQuestion(tc.qname, mdns.TypeA)
		m.Id = uint16(i + 1)
		if tc.subnet != "" {
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, SubnetOption(netip.MustParsePrefix(tc.subnet)))
		}
		wire, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if resp := h.Respond(make([]byte, 4096), wire, tc.proto, client); len(resp) == 0 {
			t.Fatalf("%s: no reply", tc.name)
		}
	}
	h.CloseDnstap()
	got := readTap(t, file)
	if len(got) != 2*len(tests) {
		t.Fatalf("%d messages, want %d", len(got), 2*len(tests))
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, r := got[2*i], got[2*i+1]
			if q.GetMessage().GetType() != dnstappb.Message_AUTH_QUERY || r.GetMessage().GetType() != dnstappb.Message_AUTH_RESPONSE {
				t.Fatalf("types %v %v", q.GetMessage().GetType(), r.GetMessage().GetType())
			}
			var resp mdns.Msg
			if err := resp.Unpack(r.GetMessage().GetResponseMessage()); err != nil || resp.Id != uint16(i+1) {
				t.Fatalf("response %v (id %d), want id %d", err, resp.Id, i+1)
			}
			x := string(r.GetExtra())
			if tc.want == nil && x != "" {
				t.Errorf("extra = %q, want none", x)
			}
			for _, w := range tc.want {
				if !strings.Contains(x, w) {
					t.Errorf("extra = %q, want it to hold %q", x, w)
				}
			}
			if string(q.GetExtra()) != x {
				t.Errorf("the query's extra %q differs from the response's %q", q.GetExtra(), x)
			}
			wantProto := dnstappb.SocketProtocol_UDP
			if tc.proto == TCP {
				wantProto = dnstappb.SocketProtocol_TCP
			}
			if p := q.GetMessage().GetSocketProtocol(); p != wantProto {
				t.Errorf("protocol %v, want %v", p, wantProto)
			}
			if string(q.GetIdentity()) != "gslb-test" {
				t.Errorf("identity %q, want the node name", q.GetIdentity())
			}
		})
	}
}

// TestDnstapReload: a reload that changes only the sampling keeps the file; one that removes
// the table closes it whole; without WithDnstap the table is ignored.
func TestDnstapReload(t *testing.T) {
	file := filepath.Join(t.TempDir(), "q.dnstap")
	h, reg := tappedHandler(t, "file = \""+file+"\"")
	first := h.tap.Load()
	gslb := writeGSLB(t)
	path := filepath.Join(filepath.Dir(gslb), "next.toml")
	src, _ := os.ReadFile(gslb)
	write := func(table string) *config.Config {
		t.Helper()
		b := append(append([]byte(nil), src...), table...)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := h.Reload(write("\n[server.dnstap]\nfile = \"" + file + "\"\nsample = 0.5\n")); err != nil {
		t.Fatal(err)
	}
	if h.tap.Load() != first {
		t.Error("changing the sample reopened the output")
	}
	if err := h.Reload(write("\n")); err != nil {
		t.Fatal(err)
	}
	if h.tap.Load() != nil {
		t.Error("the output is still open without [server.dnstap]")
	}
	readTap(t, file) // whole: the reader stops at the stop frame
	bad := write("\n[server.dnstap]\nfile = \"" + file + "\"\n")
	d := *bad.Server.Dnstap
	d.File = filepath.Join(t.TempDir(), "gone", "q.dnstap") // the directory went away after the check
	bad.Server.Dnstap = &d
	if err := h.Reload(bad); err == nil {
		t.Error("an output that cannot be opened is not reported")
	}
	if probs, err := testutil.CollectAndLint(reg, "meridian_dnstap_sent_total", "meridian_dnstap_dropped_total"); err != nil || len(probs) > 0 {
		t.Errorf("lint: %v %v", probs, err)
	}

	plain, err := NewHandler(write("\n[server.dnstap]\nfile = \""+file+".2\"\n"), newTestLogger(), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if plain.tap.Load() != nil {
		t.Error("a handler without WithDnstap opened the output")
	}
	if _, err := os.Stat(file + ".2"); err == nil {
		t.Error("a handler without WithDnstap created the file")
	}
}

// BenchmarkRespondDnstap is Respond for a prepared answer with query logging off and on (file
// output, every query): the query path's cost, and the writer's beside it.
func BenchmarkRespondDnstap(b *testing.B) {
	m := new(mdns.Msg)
	m.SetQuestion("ns1.gslb.test.", mdns.TypeA)
	wire, _ := m.Pack()
	client := netip.MustParseAddrPort("127.0.0.1:5300")
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "off", true: "file"}[on], func(b *testing.B) {
			path := writeGSLB(b)
			cfg, err := config.Load(path)
			if err != nil {
				b.Fatal(err)
			}
			if on {
				cfg.Server.Dnstap = &config.Dnstap{File: filepath.Join(b.TempDir(), "q.dnstap"), Sample: 1, Buffer: 10000, Queries: true, Responses: true}
			}
			reg := prometheus.NewRegistry()
			h, err := NewHandler(cfg, newTestLogger(), reg, WithDnstap(dnstap.NewMetrics(reg), "bench"))
			if err != nil {
				b.Fatal(err)
			}
			defer h.CloseDnstap()
			out := make([]byte, 4096)
			h.Respond(out, wire, UDP, client) // prepares the cached reply
			b.ReportAllocs()
			for b.Loop() {
				h.Respond(out, wire, UDP, client)
			}
		})
	}
}
