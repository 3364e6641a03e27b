package dns

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
)

// fuzzHandlers are the configs FuzzRespond answers from, by its cfg argument: no zones, one
// zone of load-balanced names (geo, ECS), the two static zones of zone.toml, and many zones
// (the root, nested origins, each with a service) beside the load-balanced one.
func fuzzHandlers(tb testing.TB) []*Handler {
	tb.Helper()
	gslb := writeGSLB(tb)
	base, err := os.ReadFile(gslb)
	if err != nil {
		tb.Fatal(err)
	}
	var many strings.Builder
	many.Write(base)
	origins := []string{".", "many.test"}
	for i := range 12 {
		origins = append(origins, fmt.Sprintf("z%d.many.test", i), fmt.Sprintf("a.z%d.many.test", i), fmt.Sprintf("b.a.z%d.many.test", i))
	}
	for _, o := range origins {
		suffix := "" // relative names, but the root zone takes absolute ones only
		if o == "." {
			suffix = "."
		}
		fmt.Fprintf(&many, "\n[zones.%q]\nns = [\"ns1%s\"]\n[[zones.%q.records]]\nname = \"ns1%s\"\ntype = \"A\"\ndata = \"127.0.0.1\"\n", o, suffix, o, suffix)
		fmt.Fprintf(&many, "[[zones.%q.records]]\nname = \"www%s\"\ntype = \"AAAA\"\ndata = \"2001:db8::1\"\n", o, suffix)
		fmt.Fprintf(&many, "[zones.%q.services.\"lb%s\"]\npolicy = \"failover\"\npools = [\"eu\", \"na\"]\n", o, suffix)
	}
	manyPath := filepath.Join(filepath.Dir(gslb), "many.toml")
	if err := os.WriteFile(manyPath, []byte(many.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	var hs []*Handler
	for _, path := range []string{"testdata/nozones.toml", gslb, "testdata/zone.toml", manyPath} {
		cfg, err := config.Load(path)
		if err != nil {
			tb.Fatal(err)
		}
		h, err := NewHandler(cfg, newTestLogger(), prometheus.NewRegistry())
		if err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		hs = append(hs, h)
	}
	return hs
}

// FuzzRespond: no input makes the handler panic, over configs with 0, 1 and many zones; every
// reply parses, carries the query's ID, is a response that fits the transport's limit, and
// without zones refuses every question but CHAOS.
func FuzzRespond(f *testing.F) {
	seeds := fastQueries(f)
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
		func() *mdns.Msg {
			m := new(mdns.Msg)
			m.SetQuestion("geo.gslb.test.", mdns.TypeA)
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &mdns.EDNS0_SUBNET{Code: mdns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: []byte{81, 2, 69, 0}})
			return m
		}(),
		func() *mdns.Msg { m := new(mdns.Msg); m.SetQuestion("lb.b.a.z3.many.test.", mdns.TypeA); return m }(),
		func() *mdns.Msg {
			m := new(mdns.Msg)
			m.SetQuestion("www.deep.below.z1.many.test.", mdns.TypeAAAA)
			return m
		}(),
		func() *mdns.Msg { m := new(mdns.Msg); m.SetQuestion("lb.", mdns.TypeA); return m }(),
	} {
		b, _ := q.Pack()
		seeds = append(seeds, b)
	}
	for cfg := range uint8(4) {
		for i, q := range seeds {
			f.Add(q, i%3 == 0, cfg)
		}
		f.Add([]byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1}, false, cfg)
		f.Add([]byte{0, 7, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, false, cfg)
	}
	hs := fuzzHandlers(f)
	f.Fuzz(func(t *testing.T, req []byte, tcp bool, cfg uint8) {
		h := hs[int(cfg)%len(hs)]
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
			if int(cfg)%len(hs) == 0 && (m.Rcode == mdns.RcodeSuccess || m.Rcode == mdns.RcodeNameError) &&
				(len(m.Question) != 1 || m.Question[0].Qclass != mdns.ClassCHAOS) {
				t.Fatalf("without zones: %s to %x, want REFUSED or an error", mdns.RcodeToString[m.Rcode], req)
			}
		}
	})
}
