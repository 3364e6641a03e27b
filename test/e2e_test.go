package test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// nodeVars fill testdata/node.toml.tmpl.
type nodeVars struct {
	ports
	WWW     string
	Version string
}

func startDefaultNode(t *testing.T) (*node, string) {
	t.Helper()
	dir := t.TempDir()
	p := freePorts(t)
	path := writeConfig(t, dir, "node.toml.tmpl", nodeVars{ports: p, WWW: "192.0.2.10", Version: "meridian-e2e"})
	return startNode(t, dir, p, "serve", "-c", path), path
}

func TestDig(t *testing.T) {
	n, _ := startDefaultNode(t)
	soa := "example.test. 60 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 3600 600 604800 60"
	tests := []struct {
		name   string
		args   []string
		status string
		aa     bool
		answer []string
		auth   []string
		extra  []string
		check  func(t *testing.T, r digResult)
		udp    bool // only meaningful over UDP
	}{
		{name: "a", args: []string{"www.example.test", "A"}, status: "NOERROR", aa: true,
			answer: []string{"www.example.test. 300 IN A 192.0.2.10"}},
		{name: "cname then target", args: []string{"alias.example.test", "A"}, status: "NOERROR", aa: true,
			answer: []string{"alias.example.test. 300 IN CNAME www.example.test.", "www.example.test. 300 IN A 192.0.2.10"}},
		{name: "mx", args: []string{"example.test", "MX"}, status: "NOERROR", aa: true,
			answer: []string{"example.test. 300 IN MX 10 mail.example.test."}, extra: []string{"mail.example.test. 300 IN A 192.0.2.25"}},
		{name: "txt", args: []string{"example.test", "TXT"}, status: "NOERROR", aa: true,
			answer: []string{`example.test. 300 IN TXT "v=spf1 mx -all"`}},
		{name: "srv", args: []string{"_sip._udp.example.test", "SRV"}, status: "NOERROR", aa: true,
			answer: []string{"_sip._udp.example.test. 300 IN SRV 10 60 5060 www.example.test."},
			extra:  []string{"www.example.test. 300 IN A 192.0.2.10", "www.example.test. 300 IN AAAA 2001:db8::10"}},
		{name: "caa", args: []string{"example.test", "CAA"}, status: "NOERROR", aa: true,
			answer: []string{`example.test. 300 IN CAA 0 issue "ca.example.net"`}},
		{name: "ptr", args: []string{"-x", "192.0.2.10"}, status: "NOERROR", aa: true,
			answer: []string{"10.2.0.192.in-addr.arpa. 300 IN PTR www.example.test."}},
		{name: "wildcard", args: []string{"x.apps.example.test", "A"}, status: "NOERROR", aa: true,
			answer: []string{"x.apps.example.test. 300 IN A 192.0.2.80"}},
		{name: "empty non-terminal is nodata", args: []string{"apps.example.test", "A"}, status: "NOERROR", aa: true, auth: []string{soa}},
		{name: "nxdomain with soa", args: []string{"nope.example.test", "A"}, status: "NXDOMAIN", aa: true, auth: []string{soa}},
		{name: "nodata with soa", args: []string{"www.example.test", "MX"}, status: "NOERROR", aa: true, auth: []string{soa}},
		{name: "referral", args: []string{"host.sub.example.test", "A"}, status: "NOERROR", aa: false,
			auth: []string{"sub.example.test. 300 IN NS ns.sub.example.test."}, extra: []string{"ns.sub.example.test. 300 IN A 192.0.2.53"}},
		{name: "refused outside our zones", args: []string{"example.org", "A"}, status: "REFUSED"},
		{name: "any is minimal", args: []string{"www.example.test", "ANY"}, status: "NOERROR", aa: true,
			answer: []string{"www.example.test. 300 IN A 192.0.2.10"}},
		{name: "case preserved", args: []string{"WwW.ExAmple.TEST", "A"}, status: "NOERROR", aa: true,
			answer: []string{"WwW.ExAmple.TEST. 300 IN A 192.0.2.10"}},
		{name: "chaos id.server", args: []string{"CH", "TXT", "id.server"}, status: "NOERROR", aa: true,
			answer: []string{`id.server. 0 CH TXT "e2e-node"`}},
		{name: "chaos hostname.bind", args: []string{"CH", "TXT", "hostname.bind"}, status: "NOERROR", aa: true,
			answer: []string{`hostname.bind. 0 CH TXT "e2e-node"`}},
		{name: "chaos version.bind", args: []string{"CH", "TXT", "version.bind"}, status: "NOERROR", aa: true,
			answer: []string{`version.bind. 0 CH TXT "meridian-e2e"`}},
		{name: "nsid", args: []string{"+nsid", "www.example.test"}, status: "NOERROR", aa: true,
			answer: []string{"www.example.test. 300 IN A 192.0.2.10"},
			check: func(t *testing.T, r digResult) {
				if !strings.Contains(r.options, `("e2e-node")`) {
					t.Errorf("NSID missing from OPT:\n%s", r.options)
				}
			}},
		{name: "edns buffer echoed", args: []string{"+bufsize=4096", "www.example.test"}, status: "NOERROR", aa: true,
			answer: []string{"www.example.test. 300 IN A 192.0.2.10"},
			check: func(t *testing.T, r digResult) {
				if !strings.Contains(r.options, "udp: 1232") {
					t.Errorf("want our buffer size 1232 in the OPT:\n%s", r.options)
				}
			}},
		{name: "edns version 1 is badvers", args: []string{"+edns=1", "+noednsneg", "www.example.test"}, status: "BADVERS"},
		{name: "big answer truncated over udp", args: []string{"+ignore", "+bufsize=1232", "big.example.test", "TXT"}, status: "NOERROR", aa: true, udp: true,
			check: func(t *testing.T, r digResult) {
				if !r.hasFlag("tc") {
					t.Errorf("flags %v, want tc", r.flags)
				}
				if len(r.answer) >= 31 {
					t.Errorf("%d answers over UDP, want fewer than 31", len(r.answer))
				}
			}},
		{name: "big answer complete over tcp", args: []string{"+tcp", "big.example.test", "TXT"}, status: "NOERROR", aa: true,
			check: func(t *testing.T, r digResult) {
				if r.hasFlag("tc") || len(r.answer) != 31 {
					t.Errorf("flags %v and %d answers, want no tc and 31", r.flags, len(r.answer))
				}
			}},
		{name: "opcode status is notimp", args: []string{"+opcode=status", "www.example.test"}, status: "NOTIMP"},
	}
	for _, server := range []string{"127.0.0.1", "::1"} {
		for _, transport := range []string{"+notcp", "+tcp"} {
			for _, tc := range tests {
				if tc.udp && transport == "+tcp" {
					continue
				}
				t.Run(server+"/"+transport+"/"+tc.name, func(t *testing.T) {
					r := parseDig(dig(t, server, n.ports.DNS, append([]string{transport}, tc.args...)...))
					if r.status != tc.status {
						t.Fatalf("status = %q, want %q\n%s", r.status, tc.status, r.raw)
					}
					if got := r.hasFlag("aa"); got != tc.aa {
						t.Errorf("aa = %v, want %v (flags %v)", got, tc.aa, r.flags)
					}
					if r.hasFlag("ra") {
						t.Errorf("ra set (flags %v)", r.flags)
					}
					for _, sec := range []struct {
						name      string
						got, want []string
					}{{"answer", r.answer, tc.answer}, {"authority", r.auth, tc.auth}, {"additional", r.extra, tc.extra}} {
						if sec.want == nil && tc.check != nil {
							continue
						}
						g, w := slices.Clone(sec.got), slices.Clone(sec.want)
						slices.Sort(g)
						slices.Sort(w)
						if !slices.Equal(g, w) {
							t.Errorf("%s = %q, want %q", sec.name, g, w)
						}
					}
					if tc.check != nil {
						tc.check(t, r)
					}
				})
			}
		}
	}
}

// TestMiekgClient asks the same node over UDP and TCP, IPv4 and IPv6, with miekg/dns, and
// checks the things dig hides: exact IDs, the OPT record and malformed input.
func TestMiekgClient(t *testing.T) {
	n, _ := startDefaultNode(t)
	for _, addr := range []string{fmt.Sprintf("127.0.0.1:%d", n.ports.DNS), fmt.Sprintf("[::1]:%d", n.ports.DNS)} {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(addr+"/"+network, func(t *testing.T) {
				c := &mdns.Client{Net: network, Timeout: 2 * time.Second}
				m := new(mdns.Msg)
				m.SetQuestion("www.example.test.", mdns.TypeAAAA)
				m.RecursionDesired = false
				m.SetEdns0(1232, true)
				resp, _, err := c.Exchange(m, addr)
				if err != nil {
					t.Fatal(err)
				}
				if resp.Id != m.Id || !resp.Authoritative || resp.RecursionAvailable || len(resp.Answer) != 1 {
					t.Fatalf("reply %v: want same ID, aa, no ra, one answer", resp)
				}
				if aaaa, ok := resp.Answer[0].(*mdns.AAAA); !ok || aaaa.AAAA.String() != "2001:db8::10" {
					t.Errorf("answer = %v, want AAAA 2001:db8::10", resp.Answer[0])
				}
				if opt := resp.IsEdns0(); opt == nil || !opt.Do() {
					t.Errorf("OPT = %v, want one with DO echoed", opt)
				}
				// Two questions: FORMERR.
				m.Question = append(m.Question, mdns.Question{Name: "www.example.test.", Qtype: mdns.TypeA, Qclass: mdns.ClassINET})
				resp, _, err = c.Exchange(m, addr)
				if err != nil {
					t.Fatal(err)
				}
				if resp.Rcode != mdns.RcodeFormatError {
					t.Errorf("two questions: rcode %s, want FORMERR", mdns.RcodeToString[resp.Rcode])
				}
			})
		}
	}
}

func TestMetricsAndHealth(t *testing.T) {
	n, _ := startDefaultNode(t)
	const queries = 25
	for range queries {
		dig(t, "127.0.0.1", n.ports.DNS, "www.example.test", "A")
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", n.ports.HTTP)
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, _ := get(t, base+path); code != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, code)
		}
	}
	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	re := regexp.MustCompile(`(?m)^meridian_dns_queries_total\{proto="udp",qtype="A",rcode="NOERROR",zone="example.test."\} (\d+)`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no udp/A/NOERROR counter for example.test. in /metrics:\n%s", grepLines(body, "meridian_dns"))
	}
	if got, _ := strconv.Atoi(m[1]); got < queries {
		t.Errorf("queries counted = %d, want >= %d", got, queries)
	}
	for _, want := range []string{"meridian_build_info{", "meridian_dns_request_duration_seconds_bucket{", "meridian_dns_truncated_responses_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	p := freePorts(t)
	path := writeConfig(t, dir, "node.toml.tmpl", nodeVars{ports: p, WWW: "192.0.2.10", Version: "v1"})
	n := startNode(t, dir, p, "serve", "-c", path)
	answer := func() string {
		r := parseDig(dig(t, "127.0.0.1", p.DNS, "www.example.test", "A"))
		return strings.Join(r.answer, ";")
	}
	want := func(ip string) string { return "www.example.test. 300 IN A " + ip }
	if got := answer(); got != want("192.0.2.10") {
		t.Fatalf("before reload: %q", got)
	}

	writeConfig(t, dir, "node.toml.tmpl", nodeVars{ports: p, WWW: "192.0.2.99", Version: "v2"})
	n.signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for answer() != want("192.0.2.99") {
		if time.Now().After(deadline) {
			t.Fatalf("answer still %q 5s after SIGHUP with a new config", answer())
		}
		time.Sleep(50 * time.Millisecond)
	}

	bad, err := os.ReadFile("testdata/bad.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	n.signal(syscall.SIGHUP)
	deadline = time.Now().Add(5 * time.Second)
	for !strings.Contains(n.stderr.String(), "still serving the previous config") {
		if time.Now().After(deadline) {
			t.Fatalf("no rejection logged 5s after SIGHUP with a bad config:\n%s", n.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{path + `:3:26: server.dns[1]: "not-an-address" is not an ip:port address`, path + `:4:1: unknown key "edns_bufer" (did you mean "edns_buffer"?)`, path + `:12:8:`} {
		if !strings.Contains(n.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, n.stderr.String())
		}
	}
	for range 10 {
		if got := answer(); got != want("192.0.2.99") {
			t.Fatalf("after a bad reload the answer is %q, want the previous config's", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case err := <-n.done:
		t.Fatalf("meridian exited after a bad reload: %v", err)
	default:
	}
}

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	good := writeConfig(t, dir, "node.toml.tmpl", nodeVars{ports: ports{DNS: 5353, HTTP: 8053}, WWW: "192.0.2.10"})
	out, err := exec.Command(bin, "check", "-c", good).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Errorf("check good config: err=%v output=%s", err, out)
	}
	out, err = exec.Command(bin, "check", "-c", "testdata/bad.toml").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("check bad config: err=%v, want exit status 1", err)
	}
	want := `testdata/bad.toml:3:26: server.dns[1]: "not-an-address" is not an ip:port address (e.g. "127.0.0.1:53", "[::1]:53")
testdata/bad.toml:4:1: unknown key "edns_bufer" (did you mean "edns_buffer"?) in server
testdata/bad.toml:12:8: zones."example.test".records[0].data: "300.1.2.3" is not an IPv4 address
testdata/bad.toml: 3 problems
`
	if string(out) != want {
		t.Errorf("check output:\n%s\nwant:\n%s", out, want)
	}
}

func TestGracefulShutdown(t *testing.T) {
	n, _ := startDefaultNode(t)
	n.signal(syscall.SIGTERM)
	select {
	case err := <-n.done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v, want status 0\n%s", err, n.stderr.String())
		}
		n.done <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("still running 5s after SIGTERM")
	}
}

// TestEmbeddedDefault runs `meridian serve` with no config, as the README's quick start does.
func TestEmbeddedDefault(t *testing.T) {
	for _, a := range []string{"127.0.0.1:5353", "127.0.0.1:8053"} {
		if portInUse(a) {
			t.Skipf("%s is already in use on this machine; the embedded default needs it", a)
		}
	}
	n := startNode(t, t.TempDir(), ports{DNS: 5353, HTTP: 8053}, "serve")
	r := parseDig(dig(t, "127.0.0.1", 5353, "www.example.test", "A"))
	if len(r.answer) != 1 || r.answer[0] != "www.example.test. 300 IN A 192.0.2.10" || !r.hasFlag("aa") {
		t.Errorf("embedded default: %v flags %v, want www A 192.0.2.10 with aa", r.answer, r.flags)
	}
	r = parseDig(dig(t, "::1", 5353, "+tcp", "www.example.test", "AAAA"))
	if len(r.answer) != 1 || !strings.HasSuffix(r.answer[0], "AAAA 2001:db8::10") {
		t.Errorf("embedded default over v6/tcp: %v", r.answer)
	}
	if !strings.Contains(n.stdout.String(), "dig @127.0.0.1 -p 5353 www.example.test.") {
		t.Errorf("stdout does not suggest a dig command:\n%s", n.stdout.String())
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
