package test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// delegationVars fill testdata/delegation-child.toml.tmpl.
type delegationVars struct {
	ports
	Node, Addr, Secret, Key string
	Backends                []string
}

// delegationParent fills testdata/delegation-parent.toml.tmpl: the parent's key, and the DS
// record data of the child's.
type delegationParent struct {
	ports
	Key, DS string
}

// TestDelegationThroughUnbound is the whole path as a user lives it: a parent zone (a third
// Meridian) delegates gslb.example.test with glue to ns1 (127.0.0.2) and ns2 (127.0.0.3), which
// serve one config and hear three remote probers; a real unbound resolver is pointed at the
// parent (stub-zone) and forwards EDNS Client Subnet. Both zones are DNSSEC-signed (the parent
// publishes the child's DS) and unbound validates from the parent's trust anchor: every answer
// below must carry the AD bit. Through unbound: the client's region is answered, an ECS subnet elsewhere gets its own region, a killed region leaves the answers
// within the computed failover bound (plus a margin for the probers' reports) and comes back
// when restored, and resolution survives ns1 being killed.
func TestDelegationThroughUnbound(t *testing.T) {
	unbound, err := exec.LookPath("unbound")
	if err != nil {
		t.Fatal("unbound is not installed: apt-get install unbound (bash .ci/run does it)")
	}
	root := t.TempDir()
	secret := filepath.Join(root, "peer.secret")
	if err := os.WriteFile(secret, []byte("delegation test secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var bs []*backend
	var addrs []string
	for range 3 { // eu, eu, us
		b := startBackend(t, "127.0.0.1:0")
		bs = append(bs, b)
		addrs = append(addrs, b.addr)
	}

	// The keys: one for the child (both nodes sign with it), one for the parent.
	kdir := filepath.Join(root, "keys")
	mkdir(t, kdir)
	childKey := dnssecKeygen(t, kdir, "gslb.example.test")
	childDS := strings.Fields(dnssecDS(t, "gslb.example.test", "-key", childKey))

	// The parent zone, on a free port of 127.0.0.4.
	pp := freePorts(t)
	pp.DNSHost = "127.0.0.4"
	pdir := filepath.Join(root, "parent")
	mkdir(t, pdir)
	pv := delegationParent{ports: pp, Key: dnssecKeygen(t, kdir, "example.test"), DS: strings.Join(childDS[4:], " ")}
	pconf := writeConfig(t, pdir, "delegation-parent.toml.tmpl", pv)
	startNode(t, pdir, pp, "serve", "-c", pconf)

	// ns1 and ns2 on port 53 of their own loopback addresses: a resolver follows a referral's
	// glue to port 53 only.
	var nodes []*node
	var nodeURLs []string
	for i, addr := range []string{"127.0.0.2", "127.0.0.3"} {
		p := freePorts(t)
		p.DNS, p.DNSHost = 53, addr
		dir := filepath.Join(root, fmt.Sprint("ns", i+1))
		mkdir(t, dir)
		v := delegationVars{ports: p, Node: fmt.Sprint("ns", i+1), Addr: addr, Secret: secret, Key: childKey, Backends: addrs}
		nodes = append(nodes, startNode(t, dir, p, "serve", "-c", writeConfig(t, dir, "delegation-child.toml.tmpl", v)))
		nodeURLs = append(nodeURLs, fmt.Sprintf("http://127.0.0.1:%d", p.HTTP))
	}
	for _, name := range []string{"p1", "p2", "p3"} {
		startProber(t, name, secret, nodeURLs...)
	}

	res := startUnbound(t, unbound, root, pp.DNS, dnssecDS(t, "example.test", "-c", pconf))
	digVia := func(name, qtype string, args ...string) (digResult, []byte, error) {
		out, err := exec.Command("dig", append([]string{"@127.0.0.5", "-p", fmt.Sprint(res), "+time=3", "+tries=2",
			"+dnssec", name, qtype}, args...)...).CombinedOutput()
		return parseDig(string(out)), out, err
	}
	resolve := func(args ...string) (answer []string, err error) {
		r, out, err := digVia("www.gslb.example.test", "A", args...)
		if err != nil || r.status != "NOERROR" || !r.hasFlag("ad") {
			return nil, fmt.Errorf("dig via unbound: %v status %q flags %v (want NOERROR, ad)\n%s", err, r.status, r.flags, out)
		}
		for _, rr := range r.answer {
			if f := strings.Fields(rr); len(f) == 5 && f[3] == "A" {
				answer = append(answer, f[4])
			}
		}
		slices.Sort(answer)
		return answer, nil
	}
	eu, us := []string{"127.0.1.1", "127.0.1.2"}, []string{"127.0.2.1"}
	// waitAnswer polls through unbound until the answer is want, and returns how long it took.
	waitAnswer := func(what string, want []string, limit time.Duration, args ...string) time.Duration {
		t.Helper()
		start := time.Now()
		var last []string
		var lastErr error
		for time.Since(start) < limit {
			if last, lastErr = resolve(args...); lastErr == nil && slices.Equal(last, want) {
				return time.Since(start)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: after %v the answer through unbound is %v (err %v), want %v", what, limit, last, lastErr, want)
		return 0
	}

	// Every endpoint up on both nodes (three probers and the node itself report).
	for _, u := range nodeURLs {
		waitUntilUp(t, u, "eu/127.0.1.1", "eu/127.0.1.2", "us/127.0.2.1")
	}
	waitAnswer("a loopback client (region eu)", eu, 10*time.Second)
	// Validated too: a static name, a missing name (compact denial: NOERROR, NSEC with NXNAME) and
	// a NODATA.
	for _, q := range [][2]string{{"ns1.gslb.example.test", "A"}, {"nope.gslb.example.test", "A"}, {"ns1.gslb.example.test", "MX"}} {
		if r, out, err := digVia(q[0], q[1]); err != nil || r.status != "NOERROR" || !r.hasFlag("ad") {
			t.Errorf("%s %s through unbound: %v status %s flags %v, want NOERROR with ad\n%s", q[0], q[1], err, r.status, r.flags, out)
		}
	}
	waitAnswer("ECS 198.51.100.0/24 (region us), forwarded by unbound", us, 5*time.Second, "+subnet=198.51.100.0/24")
	bound := failoverBound(t, nodeURLs[0], "www.gslb.example.test.")
	// unbound keeps time in whole seconds, so a cached answer can live up to a second past its
	// TTL; the remote probers push every 100 ms (-flush) and the test polls every 50 ms.
	margin := 1200 * time.Millisecond

	bs[0].kill()
	bs[1].kill()
	failover := waitAnswer("region eu killed", us, bound+5*time.Second)
	if failover > bound+margin {
		t.Errorf("failover through unbound took %v, over the computed bound %v + %v", failover, bound, margin)
	}
	for i := range 2 {
		b, err := newBackend(addrs[i])
		if err != nil {
			t.Fatalf("restart backend %s: %v", addrs[i], err)
		}
		t.Cleanup(b.kill)
	}
	recovery := waitAnswer("region eu restored", eu, bound+5*time.Second)
	if recovery > bound+margin {
		t.Errorf("recovery through unbound took %v, over %v + %v", recovery, bound, margin)
	}

	// ns1 killed outright: unbound keeps resolving through ns2 once its cache (TTL 2 s) expires.
	nodes[0].cmd.Process.Kill()
	<-nodes[0].done
	nodes[0].done <- nil // the cleanup waits on it
	var failed int
	start := time.Now()
	for time.Since(start) < 6*time.Second {
		if got, err := resolve(); err != nil || !slices.Equal(got, eu) {
			failed++
			t.Logf("with ns1 dead: %v %v", got, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if failed > 0 {
		t.Errorf("with ns1 dead, %d queries through unbound failed", failed)
	}
	report := fmt.Sprintf("delegation through unbound: failover bound %v; failover %.2fs, recovery %.2fs; "+
		"%d failed queries in 6s with ns1 killed\n", bound, failover.Seconds(), recovery.Seconds(), failed)
	t.Log(report)
	if err := os.WriteFile(filepath.Join(artifactDir(t), "delegation.txt"), []byte(report), 0o644); err != nil {
		t.Error(err)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// startUnbound runs unbound on 127.0.0.5 (a free port), resolving example.test through the
// parent on 127.0.0.4:parentPort, with EDNS Client Subnet sent to ns1 and ns2, validating DNSSEC
// from anchor (the parent's DS record). It returns the port once unbound answers.
func startUnbound(t *testing.T, bin, root string, parentPort int, anchor string) int {
	t.Helper()
	dir := filepath.Join(root, "unbound")
	mkdir(t, dir)
	port := freeUDPPort(t, "127.0.0.5")
	conf := fmt.Sprintf(`server:
	interface: 127.0.0.5
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
	module-config: "subnetcache validator iterator"
	trust-anchor: "%s"
	val-log-level: 2
	send-client-subnet: 127.0.0.2
	send-client-subnet: 127.0.0.3
	client-subnet-always-forward: yes
	max-client-subnet-ipv4: 24
	prefetch: no
	serve-expired: no
	infra-host-ttl: 30
remote-control:
	control-enable: no
stub-zone:
	name: "example.test"
	stub-addr: 127.0.0.4@%d
`, port, dir, filepath.Join(dir, "unbound.pid"), anchor, parentPort)
	path := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin+"-checkconf", path).CombinedOutput(); err != nil {
		t.Fatalf("unbound-checkconf: %v\n%s", err, out)
	}
	runDaemon(t, "unbound", func() bool {
		return exec.Command("dig", "@127.0.0.5", "-p", fmt.Sprint(port), "+time=1", "+tries=1", "ns.example.test", "A").Run() == nil
	}, bin, "-d", "-c", path)
	return port
}

// freeUDPPort is a UDP and TCP port free on host.
func freeUDPPort(t *testing.T, host string) int {
	t.Helper()
	for range 20 {
		u, err := net.ListenPacket("udp", host+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", host, port))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatalf("no free port on %s", host)
	return 0
}

// waitUntilUp waits until the node at url says every endpoint id is up.
func waitUntilUp(t *testing.T, url string, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, id := range ids {
		for {
			var e apiEndpoint
			code, body := get(t, url+"/api/v1/endpoints/"+id)
			if code == http.StatusOK && json.Unmarshal([]byte(body), &e) == nil && e.State == "up" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: endpoint %s not up after 10s: %d %s", url, id, code, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// failoverBound is the service's computed failover bound, as the node's API gives it.
func failoverBound(t *testing.T, url, name string) time.Duration {
	t.Helper()
	code, body := get(t, url+"/api/v1/services")
	var svcs struct {
		Services []struct {
			Name  string  `json:"name"`
			Bound float64 `json:"failover_bound_seconds"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(body), &svcs); code != http.StatusOK || err != nil {
		t.Fatalf("GET /api/v1/services: %d %v\n%s", code, err, body)
	}
	for _, s := range svcs.Services {
		if s.Name == name && s.Bound > 0 {
			return time.Duration(s.Bound * float64(time.Second))
		}
	}
	t.Fatalf("no failover bound for %s in %s", name, body)
	return 0
}
