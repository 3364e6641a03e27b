package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// spillVars fill testdata/spill.toml.tmpl.
type spillVars struct {
	ports
	Node, Proxy                string
	Backend, HTTPPort, TCPPort int
}

// TestSpillFailsOverFasterThanTheTTL is issue 18 end to end, with real processes: a node serving
// DNS on 127.0.0.40:53, a real unbound with a stub zone pointing at it, two `meridian proxy`
// processes (eu, us) following the node's health, one backend per region. Three client loops
// resolve through unbound (TTL 30 s) and connect: L7 through the proxies (www), L4 through the
// proxies (www, the tcp listeners), and DNS only (direct: the backends' own addresses). The eu
// backend is killed: the clients through the eu proxy are served again within 1 s by spill to
// us, while unbound still hands out the eu proxy; the DNS-only client waits out the TTL. Then
// the eu backend comes back: the eu proxy serves it again within rise × interval.
func TestSpillFailsOverFasterThanTheTTL(t *testing.T) {
	unbound, err := exec.LookPath("unbound")
	if err != nil {
		t.Fatal("unbound is not installed: apt-get install unbound (bash .ci/run does it)")
	}
	root := t.TempDir()
	backendPort := freeTCPPortOn(t, "127.0.0.44", "127.0.0.45")
	httpPort := freeTCPPortOn(t, "127.0.0.42", "127.0.0.43")
	tcpPort := freeTCPPortOn(t, "127.0.0.42", "127.0.0.43")
	eu := startRegionBackend(t, fmt.Sprintf("127.0.0.44:%d", backendPort), "eu")
	startRegionBackend(t, fmt.Sprintf("127.0.0.45:%d", backendPort), "us")

	p := freePorts(t)
	p.DNS, p.DNSHost = 53, "127.0.0.40"
	v := spillVars{ports: p, Node: "ns1", Backend: backendPort, HTTPPort: httpPort, TCPPort: tcpPort}
	ndir := filepath.Join(root, "node")
	mkdir(t, ndir)
	startNode(t, ndir, p, "serve", "-c", writeConfig(t, ndir, "spill.toml.tmpl", v))
	nodeURL := fmt.Sprintf("http://127.0.0.1:%d", p.HTTP)
	waitUntilUp(t, nodeURL, "eu-web/127.0.0.44", "us-web/127.0.0.45")
	var proxies []*spillProxy
	for _, region := range []string{"eu", "us"} {
		dir := filepath.Join(root, region)
		mkdir(t, dir)
		pv := v
		pv.Proxy = region
		proxies = append(proxies, startProxy(t, dir, writeConfig(t, dir, "spill.toml.tmpl", pv), nodeURL,
			fmt.Sprintf("127.0.0.%d:%d", map[string]int{"eu": 42, "us": 43}[region], httpPort)))
	}
	waitUntilUp(t, nodeURL, "eu-edge/127.0.0.42", "us-edge/127.0.0.43")
	res := startStubUnbound(t, unbound, root, "127.0.0.41", "example.test", "127.0.0.40@53")
	resolver := fmt.Sprintf("127.0.0.41:%d", res)

	// The loops start together: their first queries fill unbound's cache, 30 s from now.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	loops := map[string]*clientLoop{
		"l7 via proxy": {name: "www", resolver: resolver, do: func(ip string) (string, error) { return httpGet(ip, httpPort) }},
		"l4 via proxy": {name: "www", resolver: resolver, do: func(ip string) (string, error) { return tcpGet(ip, tcpPort) }},
		"dns only":     {name: "direct", resolver: resolver, do: func(ip string) (string, error) { return httpGet(ip, backendPort) }},
	}
	for _, l := range loops {
		wg.Add(1)
		go func() { defer wg.Done(); l.run(stop, 90*time.Second) }()
	}
	defer func() { close(stop); wg.Wait() }()
	for what, l := range loops {
		if !l.waitFor(func(a attempt) bool { return a.err == nil && a.body == "eu" }, 10*time.Second) {
			t.Fatalf("%s: never served by eu: %v", what, l.last())
		}
	}

	time.Sleep(time.Second)
	killed := time.Now()
	eu.kill()
	// The DNS-only client is served again once unbound's cached answer expires and it asks
	// again: the TTL plus detection.
	dns := loops["dns only"]
	if !dns.waitFor(func(a attempt) bool { return a.start.After(killed) && a.err == nil && a.body == "us" }, 45*time.Second) {
		t.Fatalf("dns only: not served by us 45 s after the kill: %v", dns.last())
	}
	dnsStats := dns.failover(killed)
	l7, l4 := loops["l7 via proxy"].failover(killed), loops["l4 via proxy"].failover(killed)
	for what, f := range map[string]failoverStats{"l7 via proxy": l7, "l4 via proxy": l4} {
		if f.failover > time.Second {
			t.Errorf("%s: served again %v after the kill (%d failed requests, longest gap %v), want within 1s", what, f.failover, f.failed, f.gap)
		}
		if f.deadProxyFor < 5*time.Second {
			t.Errorf("%s: unbound handed out the eu proxy for %v after the kill, want most of the 30 s TTL (the spill carried them)", what, f.deadProxyFor)
		}
	}
	if dnsStats.failover < 5*time.Second {
		t.Errorf("dns only: served again %v after the kill, want about the TTL (was the answer cached?)", dnsStats.failover)
	}

	// Explain and the API say the eu region serves by spill, with the two bounds.
	code, body := get(t, nodeURL+"/api/v1/explain?name=www.example.test&client=127.0.0.1")
	if code != http.StatusOK || !strings.Contains(body, "served by spill") || !strings.Contains(body, "through the proxies") {
		t.Errorf("explain during the outage: %d\n%s\nwant a spill line and the proxy bound", code, body)
	}
	proxyBound, dnsBound := serviceBounds(t, nodeURL, "www.example.test.")
	if proxyBound <= 0 || proxyBound >= dnsBound {
		t.Errorf("www bounds: through the proxies %v, DNS only %v: want 0 < proxy < DNS", proxyBound, dnsBound)
	}
	if !strings.Contains(proxies[0].stderr.String(), "spilled to another region") {
		t.Errorf("eu proxy log has no spill line:\n%s", proxies[0].stderr.String())
	}

	// Back: the eu proxy returns to its own backend within rise × interval of its first good
	// probe, without waiting for DNS. Clients still pinned to the eu proxy show it.
	restored := time.Now()
	startRegionBackend(t, eu.addr, "eu")
	pinned := map[string]func() (string, error){
		"l7": func() (string, error) { return httpGet("127.0.0.42", httpPort) },
		"l4": func() (string, error) { return tcpGet("127.0.0.42", tcpPort) },
	}
	back := map[string]time.Duration{}
	riseBound := 2 * 200 * time.Millisecond // rise × interval
	for what, do := range pinned {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if b, err := do(); err == nil && b == "eu" {
				back[what] = time.Since(restored)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the eu proxy did not return to its own backend within 10s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
		// The margin: the first good probe comes up to one interval after the restart, plus
		// the probe's own time and the node's push to the proxy.
		if back[what] > riseBound+500*time.Millisecond {
			t.Errorf("%s: back on the eu backend %v after the restore, want within rise × interval %v (+500ms)", what, back[what], riseBound)
		}
	}

	ratio := func(f failoverStats) string {
		return fmt.Sprintf("%.0f×", dnsStats.failover.Seconds()/max(f.failover.Seconds(), 0.001))
	}
	report := fmt.Sprintf(`spill (issue 18): TTL 30s, monitor interval 200ms, fall 2, rise 2; one run, real unbound
computed bounds for www: through the proxies %v, DNS only %v
eu backend killed:
  l7 via proxy: served again after %v; %d failed of %d requests; longest gap %v; unbound handed out the eu proxy for %v more
  l4 via proxy: served again after %v; %d failed of %d connections; longest gap %v; unbound handed out the eu proxy for %v more
  dns only:     served again after %v; %d failed of %d requests; longest gap %v
  client-visible failover, DNS only / proxy spill: l7 %s, l4 %s
eu backend restored: the eu proxy back on it after l7 %v, l4 %v (rise × interval %v)
`, proxyBound, dnsBound,
		l7.failover.Round(time.Millisecond), l7.failed, l7.total, l7.gap.Round(time.Millisecond), l7.deadProxyFor.Round(time.Second),
		l4.failover.Round(time.Millisecond), l4.failed, l4.total, l4.gap.Round(time.Millisecond), l4.deadProxyFor.Round(time.Second),
		dnsStats.failover.Round(time.Millisecond), dnsStats.failed, dnsStats.total, dnsStats.gap.Round(time.Millisecond),
		ratio(l7), ratio(l4), back["l7"].Round(time.Millisecond), back["l4"].Round(time.Millisecond), riseBound)
	t.Log(report)
	if err := os.WriteFile(filepath.Join(artifactDir(t), "spill.txt"), []byte(report), 0o644); err != nil {
		t.Error(err)
	}
}

// regionBackend answers "eu" or "us" on every path (and /health), so a client sees which
// region served it.
type regionBackend struct {
	addr string
	srv  *http.Server
}

func startRegionBackend(t *testing.T, addr, region string) *regionBackend {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // a restart may find the port in TIME_WAIT for a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	b := &regionBackend{addr: addr, srv: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, region)
	})}}
	go func() { _ = b.srv.Serve(ln) }()
	t.Cleanup(b.kill)
	return b
}

func (b *regionBackend) kill() { _ = b.srv.Close() }

// freeTCPPortOn is a TCP port free on every one of hosts.
func freeTCPPortOn(t *testing.T, hosts ...string) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", hosts[0]+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		ok := true
		var ls []net.Listener
		for _, h := range hosts[1:] {
			x, err := net.Listen("tcp", fmt.Sprintf("%s:%d", h, port))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, x)
		}
		l.Close()
		for _, x := range ls {
			x.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatalf("no TCP port free on all of %v", hosts)
	return 0
}

// spillProxy is one running `meridian proxy`.
type spillProxy struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
}

// startProxy runs `meridian proxy -c path -node url` and waits until addr accepts.
func startProxy(t *testing.T, dir, path, node, addr string) *spillProxy {
	t.Helper()
	p := &spillProxy{stderr: &syncBuffer{}}
	p.cmd = exec.Command(bin, "proxy", "-c", path, "-node", node)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = io.Discard, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("meridian proxy (%s) stderr:\n%s", addr, p.stderr.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return p
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("meridian proxy exited: %v\n%s", err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("meridian proxy not listening on %s after 15s\n%s", addr, p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startStubUnbound runs unbound on addr (a free port), resolving zone from the name server at
// stub ("ip@port") through a stub zone, without DNSSEC. It returns the port once unbound answers.
func startStubUnbound(t *testing.T, bin, root, addr, zone, stub string) int {
	t.Helper()
	dir := filepath.Join(root, "unbound")
	mkdir(t, dir)
	port := freeUDPPort(t, addr)
	conf := fmt.Sprintf(`server:
	interface: %s
	port: %d
	do-daemonize: no
	username: ""
	chroot: ""
	directory: %q
	pidfile: %q
	use-syslog: no
	logfile: ""
	verbosity: 1
	num-threads: 1
	so-reuseport: no
	access-control: 127.0.0.0/8 allow
	do-not-query-localhost: no
	do-ip6: no
	local-zone: "test." nodefault
	module-config: "iterator"
	prefetch: no
	serve-expired: no
	infra-host-ttl: 30
remote-control:
	control-enable: no
stub-zone:
	name: %q
	stub-addr: %s
`, addr, port, dir, filepath.Join(dir, "unbound.pid"), zone, stub)
	path := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	runDaemon(t, "unbound", func() bool {
		m := new(mdns.Msg)
		m.SetQuestion("ns1."+zone+".", mdns.TypeA)
		r, _, err := (&mdns.Client{Timeout: time.Second}).Exchange(m, fmt.Sprintf("%s:%d", addr, port))
		return err == nil && r.Rcode == mdns.RcodeSuccess
	}, bin, "-d", "-c", path)
	return port
}

// attempt is one iteration of a client loop: resolve, connect, read.
type attempt struct {
	start, end time.Time
	ip, body   string
	err        error
}

// clientLoop resolves name.example.test through resolver and runs do on the first address,
// every 25 ms, until stopped or its limit (it is bounded either way).
type clientLoop struct {
	name, resolver string
	do             func(ip string) (string, error)

	mu       sync.Mutex
	attempts []attempt
}

func (l *clientLoop) run(stop <-chan struct{}, limit time.Duration) {
	c := &mdns.Client{Timeout: time.Second}
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		select {
		case <-stop:
			return
		default:
		}
		a := attempt{start: time.Now()}
		m := new(mdns.Msg)
		m.SetQuestion(l.name+".example.test.", mdns.TypeA)
		r, _, err := c.Exchange(m, l.resolver)
		switch {
		case err != nil:
			a.err = fmt.Errorf("resolve: %w", err)
		case len(r.Answer) == 0:
			a.err = fmt.Errorf("resolve: %s, no answer", mdns.RcodeToString[r.Rcode])
		default:
			if rr, ok := r.Answer[0].(*mdns.A); ok {
				a.ip = rr.A.String()
				a.body, a.err = l.do(a.ip)
			} else {
				a.err = fmt.Errorf("resolve: %v", r.Answer[0])
			}
		}
		a.end = time.Now()
		l.mu.Lock()
		l.attempts = append(l.attempts, a)
		l.mu.Unlock()
		time.Sleep(25 * time.Millisecond)
	}
}

// waitFor waits until an attempt satisfies ok.
func (l *clientLoop) waitFor(ok func(attempt) bool, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	seen := 0
	for time.Now().Before(deadline) {
		l.mu.Lock()
		as := l.attempts[seen:]
		seen = len(l.attempts)
		l.mu.Unlock()
		for _, a := range as {
			if ok(a) {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (l *clientLoop) last() attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.attempts) == 0 {
		return attempt{}
	}
	return l.attempts[len(l.attempts)-1]
}

// failoverStats are a loop's attempts after a kill: how long until it was served again (the
// end of the first success after its last failure), the failures, the longest run of them,
// and how long it kept resolving the eu proxy (127.0.0.42) after the kill.
type failoverStats struct {
	failover, gap, deadProxyFor time.Duration
	failed, total               int
}

func (l *clientLoop) failover(killed time.Time) failoverStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	var f failoverStats
	var as []attempt
	for _, a := range l.attempts {
		if a.start.After(killed) {
			as = append(as, a)
		}
	}
	f.total = len(as)
	lastFail := -1
	var runStart time.Time
	for i, a := range as {
		if a.ip == "127.0.0.42" {
			f.deadProxyFor = a.end.Sub(killed)
		}
		if a.err != nil || a.body != "us" && a.body != "eu" {
			f.failed++
			lastFail = i
			if runStart.IsZero() {
				runStart = a.start
			}
			continue
		}
		if !runStart.IsZero() {
			f.gap = max(f.gap, a.end.Sub(runStart))
			runStart = time.Time{}
		}
	}
	for _, a := range as[lastFail+1:] {
		if a.err == nil {
			f.failover = a.end.Sub(killed)
			break
		}
	}
	return f
}

func httpGet(ip string, port int) (string, error) {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(fmt.Sprintf("http://%s:%d/", ip, port))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return string(b), err
}

// tcpGet opens a TCP connection (through an L4 listener), sends an HTTP/1.0 request on it and
// returns the body.
func tcpGet(ip string, port int) (string, error) {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", ip, port), time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: www.example.test\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b), err
}

// serviceBounds are a service's two failover bounds from the node's API.
func serviceBounds(t *testing.T, url, name string) (proxy, dns time.Duration) {
	t.Helper()
	code, body := get(t, url+"/api/v1/services")
	var svcs struct {
		Services []struct {
			Name     string   `json:"name"`
			Bound    float64  `json:"failover_bound_seconds"`
			Proxy    float64  `json:"proxy_failover_bound_seconds"`
			Spilling []string `json:"spilling"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(body), &svcs); code != http.StatusOK || err != nil {
		t.Fatalf("GET /api/v1/services: %d %v\n%s", code, err, body)
	}
	for _, s := range svcs.Services {
		if s.Name == name {
			if len(s.Spilling) != 1 || s.Spilling[0] != "eu-edge" {
				t.Errorf("%s spilling = %v, want [eu-edge]", name, s.Spilling)
			}
			return time.Duration(s.Proxy * float64(time.Second)), time.Duration(s.Bound * float64(time.Second))
		}
	}
	t.Fatalf("no service %s in %s", name, body)
	return 0, 0
}
