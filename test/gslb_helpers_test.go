package test

import (
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dns"
)

// gslbVars fill testdata/gslb.toml.tmpl and testdata/geolite2.toml.tmpl.
type gslbVars struct {
	ports
	City string // absolute path of GeoLite2-City.mmdb
}

// startGSLBNode renders tmpl with fresh ports (and city, when not empty) and starts a node on it.
// It returns the node and the config's path.
func startGSLBNode(t *testing.T, tmpl, city string) (*node, string) {
	t.Helper()
	dir := t.TempDir()
	p := freePorts(t)
	path := writeConfig(t, dir, tmpl, gslbVars{ports: p, City: city})
	return startNode(t, dir, p, "serve", "-c", path), path
}

// digArgs is the command line of dig against the node on port, with the flags dig() uses.
func digArgs(port int, args ...string) []string {
	return append([]string{"dig", "@127.0.0.1", "-p", strconv.Itoa(port), "+norec", "+time=2", "+tries=1"}, args...)
}

// outputs runs each command line, 8 at a time, and returns their outputs in order. A command
// that fails fails the test.
func outputs(t *testing.T, cmds [][]string) []string {
	t.Helper()
	out := make([]string, len(cmds))
	errs := make([]error, len(cmds))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, c := range cmds {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			name := c[0]
			if name == "meridian" {
				name = bin
			}
			b, err := exec.Command(name, c[1:]...).CombinedOutput()
			out[i] = string(b)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %v\n%s", strings.Join(c, " "), err, b)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// addrs returns the addresses of the A and AAAA records among dig or miekg/dns record lines,
// sorted.
func addrs(records []string) []string {
	var out []string
	for _, rr := range records {
		f := strings.Fields(rr)
		if len(f) == 5 && (f[3] == "A" || f[3] == "AAAA") {
			out = append(out, f[4])
		}
	}
	slices.Sort(out)
	return out
}

// ecsScope reads the scope prefix length from dig's "; CLIENT-SUBNET: 193.0.6.0/24/21" line, or
// from miekg/dns's "; SUBNET: 193.0.6.0/24/21" in explain's reply.
func ecsScope(r digResult) (int, bool) {
	for _, line := range strings.Split(r.options, "\n") {
		v, ok := strings.CutPrefix(line, "; CLIENT-SUBNET: ")
		if !ok {
			if v, ok = strings.CutPrefix(line, "; SUBNET: "); !ok {
				continue
			}
		}
		f := strings.Split(strings.TrimSpace(v), "/")
		if len(f) != 3 {
			return 0, false
		}
		n, err := strconv.Atoi(f[2])
		return n, err == nil
	}
	return 0, false
}

// explainReply parses the reply part of `meridian explain` output (the miekg/dns text after
// ";; the reply") as dig output: the sections have the same headings.
func explainReply(t *testing.T, out string) digResult {
	t.Helper()
	_, reply, ok := strings.Cut(out, ";; the reply\n")
	if !ok {
		t.Fatalf("explain printed no \";; the reply\":\n%s", out)
	}
	return parseDig(reply)
}

// exchanger sends queries over one UDP connection, as a resolver would.
type exchanger struct {
	c    *mdns.Client
	conn *mdns.Conn
}

func newExchanger(t *testing.T, c *mdns.Client, port int) *exchanger {
	t.Helper()
	conn, err := c.Dial(fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &exchanger{c: c, conn: conn}
}

// query asks name/qtype, with ECS subnet when it is valid.
func (e *exchanger) query(name string, qtype uint16, subnet netip.Prefix) (*mdns.Msg, error) {
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), qtype)
	m.RecursionDesired = false
	m.SetEdns0(1232, false)
	if subnet.IsValid() {
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, dns.SubnetOption(subnet))
	}
	resp, _, err := e.c.ExchangeWithConn(m, e.conn)
	if err != nil {
		return nil, fmt.Errorf("%s %s with ECS %v: %w", name, mdns.TypeToString[qtype], subnet, err)
	}
	if resp.Rcode != mdns.RcodeSuccess {
		return nil, fmt.Errorf("%s %s with ECS %v: rcode %s, want NOERROR", name, mdns.TypeToString[qtype], subnet, mdns.RcodeToString[resp.Rcode])
	}
	return resp, nil
}

// answerAddrs is the answer's addresses, in answer order.
func answerAddrs(m *mdns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch a := rr.(type) {
		case *mdns.A:
			out = append(out, a.A.String())
		case *mdns.AAAA:
			out = append(out, a.AAAA.String())
		}
	}
	return out
}

// replyScope is the ECS scope of a reply, or -1 without an ECS option.
func replyScope(m *mdns.Msg) int {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if s, ok := o.(*mdns.EDNS0_SUBNET); ok {
				return int(s.SourceScope)
			}
		}
	}
	return -1
}

// udpClient is a miekg/dns UDP client; one is shared by all the exchangers of a test.
func udpClient() *mdns.Client { return &mdns.Client{Net: "udp", Timeout: 2 * time.Second} }

// waitLog waits until the node has logged a line containing s, at most limit.
func waitLog(t *testing.T, n *node, s string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !strings.Contains(n.stderr.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the node's log within %v:\n%s", s, limit, n.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
