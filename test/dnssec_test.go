package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDNSSECThroughUnbound: a signed parent (example.test, on 127.0.0.7) publishes the DS of a
// signed child (gslb.example.test, on 127.0.0.6:53) that `meridian dnssec ds` printed; a
// validating unbound given only the parent's trust anchor sets the AD bit on the load-balanced
// name, a static name, a missing name and a NODATA; delv agrees; and a fresh unbound returns
// SERVFAIL once the child signs with a key the DS does not name.
func TestDNSSECThroughUnbound(t *testing.T) {
	unbound, err := exec.LookPath("unbound")
	if err != nil {
		t.Fatal("unbound is not installed: apt-get install unbound (bash .ci/run does it)")
	}
	root := t.TempDir()
	keygen := func(dir, zone string) string { return dnssecKeygen(t, dir, zone) }
	write := func(path, text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cdir, pdir := filepath.Join(root, "child"), filepath.Join(root, "parent")
	mkdir(t, cdir)
	mkdir(t, pdir)
	childKey, wrongKey := keygen(cdir, "gslb.example.test"), keygen(cdir, "gslb.example.test")
	cp := freePorts(t)
	cp.DNS, cp.DNSHost = 53, "127.0.0.6"
	childConf := func(key string) string {
		return fmt.Sprintf(`[server]
node = "child"
dns = ["127.0.0.6:53"]
http = "127.0.0.1:%d"
data_dir = "data"
[regions.eu]
lat = 50.1
lon = 8.7
[pools.eu]
region = "eu"
endpoints = [{ address = "127.0.1.1" }, { address = "127.0.1.2" }]
[zones."gslb.example.test"]
ns = ["ns1"]
[[zones."gslb.example.test".records]]
name = "ns1"
type = "A"
data = "127.0.0.6"
[zones."gslb.example.test".services.www]
policy = "weighted"
pools = ["eu"]
answers = 2
ttl = "2s"
[zones."gslb.example.test".dnssec]
keys = [%q]
`, cp.HTTP, key)
	}
	cconf := filepath.Join(cdir, "meridian.toml")
	write(cconf, childConf(childKey))
	child := startNode(t, cdir, cp, "serve", "-c", cconf)
	f := strings.Fields(dnssecDS(t, "gslb.example.test", "-c", cconf))
	parentKey := keygen(pdir, "example.test")
	pp := freePorts(t)
	pp.DNSHost = "127.0.0.7"
	pconf := filepath.Join(pdir, "meridian.toml")
	write(pconf, fmt.Sprintf(`[server]
node = "parent"
dns = ["127.0.0.7:%d"]
http = "127.0.0.1:%d"
data_dir = "data"
[zones."example.test"]
ns = ["ns"]
[[zones."example.test".records]]
name = "ns"
type = "A"
data = "127.0.0.7"
[[zones."example.test".records]]
name = "gslb"
type = "NS"
data = "ns1.gslb"
[[zones."example.test".records]]
name = "gslb"
type = "DS"
data = "%s"
[[zones."example.test".records]]
name = "ns1.gslb"
type = "A"
data = "127.0.0.6"
[zones."example.test".dnssec]
keys = [%q]
`, pp.DNS, pp.HTTP, strings.Join(f[4:], " "), parentKey))
	startNode(t, pdir, pp, "serve", "-c", pconf)
	anchor := dnssecDS(t, "example.test", "-c", pconf)

	res := startValidator(t, unbound, filepath.Join(root, "unbound1"), pp.DNS, anchor)
	query := func(port int, name, qtype string) digResult {
		out, _ := exec.Command("dig", "@127.0.0.8", "-p", fmt.Sprint(port), "+time=3", "+tries=2", "+dnssec", name, qtype).CombinedOutput()
		return parseDig(string(out))
	}
	for _, tc := range []struct{ name, qtype, status string }{
		{"www.gslb.example.test", "A", "NOERROR"},
		{"ns1.gslb.example.test", "A", "NOERROR"},
		{"nope.gslb.example.test", "A", "NOERROR"}, // compact denial: NODATA for a missing name
		{"ns1.gslb.example.test", "MX", "NOERROR"},
	} {
		r := query(res, tc.name, tc.qtype)
		if r.status != tc.status || !r.hasFlag("ad") {
			t.Errorf("%s %s through validating unbound: status %s, ad %v; want %s with ad", tc.name, tc.qtype, r.status, r.hasFlag("ad"), tc.status)
		}
	}

	// delv, a validator no one here wrote, with the child's key as its anchor.
	pub, err := os.ReadFile(childKey + ".key")
	if err != nil {
		t.Fatal(err)
	}
	k := strings.Fields(string(pub))
	anchors := filepath.Join(root, "delv.anchors")
	write(anchors, fmt.Sprintf("trust-anchors { gslb.example.test. static-key %s %s %s \"%s\"; };\n", k[4], k[5], k[6], strings.Join(k[7:], "")))
	for _, q := range [][2]string{{"www.gslb.example.test", "A"}, {"nope.gslb.example.test", "A"}} {
		out, _ := exec.Command("delv", "-a", anchors, "+root=gslb.example.test", "@127.0.0.6", "-p", "53", q[0], q[1]).CombinedOutput()
		if !strings.Contains(string(out), "fully validated") {
			t.Errorf("delv %s %s: not validated:\n%s", q[0], q[1], out)
		}
	}

	// The child signs with a key the parent's DS does not name: validation must fail.
	write(cconf, childConf(wrongKey))
	child.signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	wrongPub := strings.Fields(mustRead(t, wrongKey+".key"))[7]
	for !strings.Contains(strings.ReplaceAll(dig(t, "127.0.0.6", 53, "+short", "gslb.example.test", "DNSKEY"), " ", ""), wrongPub) {
		if time.Now().After(deadline) {
			t.Fatal("the child did not take the new key after SIGHUP")
		}
		time.Sleep(100 * time.Millisecond)
	}
	res2 := startValidator(t, unbound, filepath.Join(root, "unbound2"), pp.DNS, anchor)
	if r := query(res2, "www.gslb.example.test", "A"); r.status != "SERVFAIL" {
		t.Errorf("with the child's key swapped, unbound answered %s, want SERVFAIL", r.status)
	}
}

// dnssecKeygen makes a key for zone in dir with `meridian dnssec keygen` and returns its base path.
func dnssecKeygen(t *testing.T, dir, zone string) string {
	t.Helper()
	out, err := exec.Command(bin, "dnssec", "keygen", "-dir", dir, zone).Output()
	if err != nil {
		t.Fatalf("dnssec keygen %s: %v", zone, err)
	}
	return strings.TrimSpace(string(out))
}

// dnssecDS is the DS record `meridian dnssec ds ARGS... ZONE` prints, on one line with single
// spaces ("zone. 3600 IN DS tag alg digesttype digest"): a record for the parent, or unbound's
// trust-anchor.
func dnssecDS(t *testing.T, zone string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, append(append([]string{"dnssec", "ds"}, args...), zone)...).Output()
	if err != nil {
		t.Fatalf("dnssec ds %s: %v", zone, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 8 || f[3] != "DS" {
		t.Fatalf("dnssec ds %s printed %q", zone, out)
	}
	return strings.Join(f, " ")
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// startValidator runs a validating unbound on 127.0.0.8 whose only trust anchor is anchor (the
// parent's DS), resolving example.test through the parent on 127.0.0.7:parentPort.
func startValidator(t *testing.T, bin, dir string, parentPort int, anchor string) int {
	t.Helper()
	mkdir(t, dir)
	port := freeUDPPort(t, "127.0.0.8")
	conf := fmt.Sprintf(`server:
	interface: 127.0.0.8
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
	module-config: "validator iterator"
	trust-anchor: "%s"
	val-log-level: 2
	prefetch: no
	infra-host-ttl: 30
remote-control:
	control-enable: no
stub-zone:
	name: "example.test"
	stub-addr: 127.0.0.7@%d
`, port, dir, filepath.Join(dir, "unbound.pid"), anchor, parentPort)
	path := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin+"-checkconf", path).CombinedOutput(); err != nil {
		t.Fatalf("unbound-checkconf: %v\n%s", err, out)
	}
	runDaemon(t, "unbound", func() bool {
		return exec.Command("dig", "@127.0.0.8", "-p", fmt.Sprint(port), "+time=1", "+tries=1", "ns.example.test", "A").Run() == nil
	}, bin, "-d", "-c", path)
	return port
}
