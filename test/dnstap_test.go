package test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	mdns "github.com/miekg/dns"
	"google.golang.org/protobuf/proto"
)

// dnstapVars fill testdata/dnstap.toml.tmpl: Output is the [server.dnstap] output line.
type dnstapVars struct {
	ports
	Output string
	Buffer int
}

// dnstapQuery is one query the tests send and what its log says.
type dnstapQuery struct {
	qname, subnet string
	tcp           bool
	extra         string // in the AUTH_RESPONSE's extra field; "" for none
	answer        string
}

var dnstapQueries = []dnstapQuery{
	{qname: "www.example.test", subnet: "192.0.2.0/24", answer: "127.0.20.1",
		extra: "service=www.example.test. outcome=answer pools=west region=west client=region:west source=ecs scope=24"},
	{qname: "www.example.test", answer: "127.0.21.1",
		extra: "service=www.example.test. outcome=answer pools=east region=east source=socket"},
	{qname: "ns1.example.test", tcp: true, answer: "127.0.0.1"},
}

// TestDnstapFile: a node logs every query and reply to a file; stopped with SIGTERM, the file
// reads back whole with BIND's dnstap-read, and the policy decisions are in the extra fields
// (which dnstap-read does not print: golang-dnstap's reader reads them).
func TestDnstapFile(t *testing.T) {
	dnstapRead := lookDnstapRead(t)
	dir := t.TempDir()
	p := freePorts(t)
	file := filepath.Join(dir, "queries.dnstap")
	path := writeConfig(t, dir, "dnstap.toml.tmpl", dnstapVars{ports: p, Output: `file = "queries.dnstap"`, Buffer: 10000})
	n := startNode(t, dir, p, "serve", "-c", path)
	for _, q := range dnstapQueries {
		args := []string{q.qname, "A", "+short"}
		if q.subnet != "" {
			args = append(args, "+subnet="+q.subnet)
		}
		if q.tcp {
			args = append(args, "+tcp")
		}
		if got := strings.TrimSpace(dig(t, "127.0.0.1", p.DNS, args...)); got != q.answer {
			t.Fatalf("dig %v = %q, want %q", args, got, q.answer)
		}
	}
	waitMetric(t, p.HTTP, "meridian_dnstap_sent_total", func(v float64) bool { return v >= float64(2*len(dnstapQueries)) })
	stopNode(t, n) // the file is complete only once the node has written the stop frame

	out, err := exec.Command(dnstapRead, "-y", file).CombinedOutput()
	if err != nil {
		t.Fatalf("dnstap-read -y: %v\n%s", err, out)
	}
	var docs []string
	for _, doc := range strings.Split(string(out), "\n---\n") {
		if !strings.Contains(doc, "example.test. IN SOA'") { // startNode's readiness probes
			docs = append(docs, doc)
		}
	}
	if len(docs) != 2*len(dnstapQueries) {
		t.Fatalf("dnstap-read printed %d messages besides the readiness probes, want %d:\n%s", len(docs), 2*len(dnstapQueries), out)
	}
	for i, q := range dnstapQueries {
		for j, typ := range []string{"AUTH_QUERY", "AUTH_RESPONSE"} {
			doc := docs[2*i+j]
			for _, want := range []string{"type: MESSAGE", "identity: e2e-dnstap", "version: meridian ", "  type: " + typ,
				"  socket_protocol: " + map[bool]string{false: "UDP", true: "TCP"}[q.tcp], `  query_address: "127.0.0.1"`,
				"- '" + q.qname + ". IN A'"} {
				if !strings.Contains(doc, want) {
					t.Errorf("query %d %s: no %q in\n%s", i, typ, want, doc)
				}
			}
			if typ == "AUTH_RESPONSE" && !regexp.MustCompile(`(?m)^\s+- '`+regexp.QuoteMeta(q.qname)+`\. \d+ IN A `+regexp.QuoteMeta(q.answer)+`'`).MatchString(doc) {
				t.Errorf("query %d: the response has no answer %s:\n%s", i, q.answer, doc)
			}
		}
	}

	var msgs []*dnstap.Dnstap
	for _, d := range readDnstapFile(t, file) {
		var m mdns.Msg
		if err := m.Unpack(append(d.GetMessage().GetQueryMessage(), d.GetMessage().GetResponseMessage()...)); err != nil {
			t.Fatal(err)
		}
		if m.Question[0].Qtype != mdns.TypeSOA {
			msgs = append(msgs, d)
		}
	}
	if len(msgs) != 2*len(dnstapQueries) {
		t.Fatalf("golang-dnstap read %d messages besides the readiness probes, want %d", len(msgs), 2*len(dnstapQueries))
	}
	for i, q := range dnstapQueries {
		if x := string(msgs[2*i+1].GetExtra()); x != q.extra {
			t.Errorf("query %d (%s %s): extra = %q, want %q", i, q.qname, q.subnet, x, q.extra)
		}
	}
}

// TestDnstapSocket: with a Unix socket nobody reads, the buffer fills and the rest is dropped
// and counted; a collector that comes later gets what was buffered; a SIGHUP that moves the
// output to a file takes effect.
func TestDnstapSocket(t *testing.T) {
	dir := t.TempDir()
	p := freePorts(t)
	sock := filepath.Join(dir, "tap.sock")
	path := writeConfig(t, dir, "dnstap.toml.tmpl", dnstapVars{ports: p, Output: `socket = "tap.sock"`, Buffer: 20})
	n := startNode(t, dir, p, "serve", "-c", path)
	c := &mdns.Client{Timeout: 2 * time.Second}
	for i := range 30 {
		m := new(mdns.Msg)
		m.SetQuestion("www.example.test.", mdns.TypeA)
		if _, _, err := c.Exchange(m, fmt.Sprintf("127.0.0.1:%d", p.DNS)); err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
	}
	// 20 messages wait (10 queries), the rest of the 30 queries and the readiness probes drop.
	dropped := waitMetric(t, p.HTTP, "meridian_dnstap_dropped_total", func(v float64) bool { return v >= 40 })
	if got := metricValue(t, p.HTTP, "meridian_dnstap_sent_total"); got != 0 {
		t.Errorf("sent = %v with no collector, want 0", got)
	}

	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	frames := make(chan []byte, 100)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		in, err := dnstap.NewFrameStreamInputTimeout(conn, true, 10*time.Second)
		if err != nil {
			t.Errorf("collector handshake: %v", err)
			return
		}
		in.ReadInto(frames)
	}()
	for i := range 20 {
		select {
		case f := <-frames:
			var d dnstap.Dnstap
			if err := proto.Unmarshal(f, &d); err != nil {
				t.Fatal(err)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("the collector got %d of the 20 buffered messages", i)
		}
	}
	waitMetric(t, p.HTTP, "meridian_dnstap_sent_total", func(v float64) bool { return v == 20 })
	if got := metricValue(t, p.HTTP, "meridian_dnstap_dropped_total"); got != dropped {
		t.Errorf("dropped went from %v to %v while the collector read", dropped, got)
	}

	writeConfig(t, dir, "dnstap.toml.tmpl", dnstapVars{ports: p, Output: `file = "after-hup.dnstap"`, Buffer: 20})
	n.signal(syscall.SIGHUP)
	file := filepath.Join(dir, "after-hup.dnstap")
	deadline := time.Now().Add(10 * time.Second)
	for _, err := os.Stat(file); err != nil; _, err = os.Stat(file) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s 10 s after SIGHUP\n%s", file, n.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	dig(t, "127.0.0.1", p.DNS, "www.example.test", "A")
	stopNode(t, n)
	msgs := readDnstapFile(t, file)
	if len(msgs) < 2 || !strings.HasPrefix(string(msgs[len(msgs)-1].GetExtra()), "service=www.example.test. ") {
		t.Errorf("after SIGHUP the file holds %d messages, the last with extra %q", len(msgs), msgs[len(msgs)-1].GetExtra())
	}
}

func lookDnstapRead(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("dnstap-read")
	if err != nil {
		t.Fatal("dnstap-read is not installed: apt-get install bind9-dnsutils")
	}
	return p
}

// stopNode sends SIGTERM and waits for the node to exit.
func stopNode(t *testing.T, n *node) {
	t.Helper()
	n.signal(syscall.SIGTERM)
	select {
	case err := <-n.done:
		n.done <- err // for startNode's cleanup
		if err != nil {
			t.Fatalf("meridian exited with %v\n%s", err, n.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("meridian did not stop 10 s after SIGTERM")
	}
}

func readDnstapFile(t *testing.T, file string) []*dnstap.Dnstap {
	t.Helper()
	in, err := dnstap.NewFrameStreamInputFromFilename(file)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan []byte, 10000)
	in.ReadInto(ch)
	close(ch)
	var out []*dnstap.Dnstap
	for f := range ch {
		d := new(dnstap.Dnstap)
		if err := proto.Unmarshal(f, d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// metricValue reads one unlabelled sample from the node's /metrics.
func metricValue(t *testing.T, port int, name string) float64 {
	t.Helper()
	_, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s on /metrics", name)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// waitMetric polls name until ok holds (10 s at most) and returns its value.
func waitMetric(t *testing.T, port int, name string, ok func(float64) bool) float64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := metricValue(t, port, name)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after 10 s", name, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
