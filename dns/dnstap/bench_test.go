package dnstap

import (
	"net/netip"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
)

// BenchmarkFile is the whole cost of one logged query with file output: Get, the copies, Send,
// and the writer goroutine's encoding and writing of its two messages (the loop waits for a
// free entry, so it runs at the writer's pace; -cpu 1 puts both on one core).
func BenchmarkFile(b *testing.B) {
	c := config.Dnstap{Sample: 1, Buffer: 10000, Identity: "bench", Queries: true, Responses: true,
		File: filepath.Join(b.TempDir(), "q.dnstap")}
	tap, err := Open(c, Options{Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		b.Fatal(err)
	}
	q := new(mdns.Msg)
	q.SetQuestion("static.example.test.", mdns.TypeA)
	qw, _ := q.Pack()
	r := new(mdns.Msg)
	r.SetReply(q)
	r.Answer = append(r.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: "static.example.test.", Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 300}, A: []byte{192, 0, 2, 10}})
	rw, _ := r.Pack()
	client := netip.MustParseAddrPort("127.0.0.1:5300")
	b.ReportAllocs()
	for b.Loop() {
		e := tap.Get()
		for e == nil {
			runtime.Gosched()
			e = tap.Get()
		}
		e.QueryTime = time.Now()
		e.Query = append(e.Query, qw...)
		e.Response = append(e.Response, rw...)
		e.ResponseTime = time.Now()
		e.Client = client
		tap.Send(e)
	}
	tap.Close()
}

// BenchmarkEncode is the writer goroutine's protobuf encoding of one message.
func BenchmarkEncode(b *testing.B) {
	var enc encoder
	e := &Entry{Query: make([]byte, 40), Response: make([]byte, 60), QueryTime: time.Now(), ResponseTime: time.Now(),
		Client: netip.MustParseAddrPort("127.0.0.1:5300")}
	m := &meta{identity: []byte("bench"), version: []byte("meridian devel")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.encode(e, false, m); err != nil {
			b.Fatal(err)
		}
	}
}
