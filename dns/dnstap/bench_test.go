package dnstap

import (
	"net/netip"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
)

// benchMessages are a query for an A record and its one-address reply.
func benchMessages(b *testing.B) (query, reply []byte) {
	q := new(mdns.Msg)
	q.SetQuestion("static.example.test.", mdns.TypeA)
	qw, _ := q.Pack()
	r := new(mdns.Msg)
	r.SetReply(q)
	r.Answer = append(r.Answer, &mdns.A{Hdr: mdns.RR_Header{Name: "static.example.test.", Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 300}, A: []byte{192, 0, 2, 10}})
	rw, err := r.Pack()
	if err != nil {
		b.Fatal(err)
	}
	return qw, rw
}

func benchConfig(b *testing.B) config.Dnstap {
	return config.Dnstap{Sample: 1, Buffer: 10000, Identity: "bench", Queries: true, Responses: true,
		File: filepath.Join(b.TempDir(), "q.dnstap")}
}

// BenchmarkFile is one logged query with file output, the writer goroutine running beside the
// loop: ns/op is the query path's wall time (the loop yields while the buffer is full, so it
// runs at the writer's pace), cpu-ns/op the process's CPU time for both per query.
func BenchmarkFile(b *testing.B) {
	tap, err := Open(benchConfig(b), Options{Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		b.Fatal(err)
	}
	qw, rw := benchMessages(b)
	client := netip.MustParseAddrPort("127.0.0.1:5300")
	cpu0 := cpuTime(b)
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
		e.ResponseTime = e.QueryTime
		e.Client = client
		tap.Send(e)
	}
	tap.Close()
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkWriter is the writer's work for one logged query on one goroutine, without the
// hand-over between cores: Get, the copies, Send, then taking the entry, encoding its two
// messages and writing them to the file in batches.
func BenchmarkWriter(b *testing.B) {
	c := benchConfig(b)
	tap := newTap(c, Options{Metrics: NewMetrics(prometheus.NewRegistry())})
	w, err := openFile(c.File)
	if err != nil {
		b.Fatal(err)
	}
	tap.w = w
	qw, rw := benchMessages(b)
	client := netip.MustParseAddrPort("127.0.0.1:5300")
	now := time.Now()
	var pos uint64
	b.ReportAllocs()
	for b.Loop() {
		e := tap.Get()
		if e == nil {
			pos, _ = tap.take(pos)
			e = tap.Get()
		}
		e.QueryTime, e.ResponseTime = now, now
		e.Query = append(e.Query, qw...)
		e.Response = append(e.Response, rw...)
		e.Client = client
		tap.Send(e)
	}
	tap.drain(pos)
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEncode is the writer goroutine's encoding of one message into its frame buffer;
// BenchmarkEncodeOld is the same with golang-dnstap's generated types and proto.Marshal.
func BenchmarkEncode(b *testing.B) {
	e, m := benchEntry()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendFrame(buf[:0], e, false, m, nil)
	}
}

func BenchmarkEncodeOld(b *testing.B) {
	var enc oldEncoder
	e, m := benchEntry()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.encode(e, false, m); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEntry() (*Entry, *meta) {
	return &Entry{Query: make([]byte, 40), Response: make([]byte, 60), QueryTime: time.Now(), ResponseTime: time.Now(),
			Client: netip.MustParseAddrPort("127.0.0.1:5300")},
		&meta{identity: []byte("bench"), version: []byte("meridian devel")}
}

// BenchmarkGetSend is the query path's share: an entry, the two copies, the hand-over. The
// writer is a socket nobody listens on, so the ring is emptied here, not by a goroutine.
func BenchmarkGetSend(b *testing.B) {
	c := config.Dnstap{Sample: 1, Buffer: 2, Queries: true, Responses: true,
		Socket: filepath.Join(b.TempDir(), "none.sock")}
	tap, err := Open(c, Options{Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		b.Fatal(err)
	}
	defer tap.Close()
	qw, rw := make([]byte, 40), make([]byte, 60)
	client := netip.MustParseAddrPort("127.0.0.1:5300")
	now := time.Now()
	var pos uint64
	b.ReportAllocs()
	for b.Loop() {
		e := tap.Get()
		e.QueryTime, e.ResponseTime = now, now
		e.Query = append(e.Query, qw...)
		e.Response = append(e.Response, rw...)
		e.Client = client
		tap.Send(e)
		tap.ring[0].seq.Store(2 * (pos + 1)) // what the writer does when it has taken it
		pos++
	}
}
