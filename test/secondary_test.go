package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// secondaryVars fill testdata/secondary.toml.tmpl.
type secondaryVars struct {
	ports
	Secret        string
	SecondaryPort int
	Added         bool // the record the reload adds
}

const secondarySecret = "bWVyaWRpYW4tc2Vjb25kYXJ5LXRlc3Qtc2VjcmV0LTMyYg=="

// TestSecondary runs a real NSD as Meridian's secondary: it copies the zone over TSIG (static
// names, and the load-balanced name as its all-up answer), and after a reload that adds a
// record it is told by NOTIFY and serves the record within seconds (its refresh is an hour, so
// only the NOTIFY can do it). A transfer without the key is refused.
func TestSecondary(t *testing.T) {
	nsd, err := exec.LookPath("nsd")
	if err != nil {
		t.Fatal("nsd is not installed: apt-get install nsd (bash .ci/run does it)")
	}
	root := t.TempDir()
	secret := filepath.Join(root, "xfr.secret")
	if err := os.WriteFile(secret, []byte(secondarySecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := freePorts(t)
	v := secondaryVars{ports: p, Secret: secret, SecondaryPort: freeUDPPort(t, "127.0.0.10")}
	dir := filepath.Join(root, "primary")
	mkdir(t, dir)
	conf := writeConfig(t, dir, "secondary.toml.tmpl", v)
	n := startNode(t, dir, p, "serve", "-c", conf)
	startNSD(t, nsd, root, v.SecondaryPort, p.DNS)

	// ask the secondary; answer is the sorted addresses (nil while it has no copy).
	ask := func(name, qtype string) []string {
		out, err := exec.Command("dig", "@127.0.0.10", "-p", fmt.Sprint(v.SecondaryPort), "+norec", "+time=1", "+tries=1", name, qtype).CombinedOutput()
		if err != nil {
			return nil
		}
		var addrs []string
		for _, rr := range parseDig(string(out)).answer {
			if f := strings.Fields(rr); len(f) == 5 && f[3] == qtype {
				addrs = append(addrs, f[4])
			}
		}
		slices.Sort(addrs)
		return addrs
	}
	waitFor := func(what string, limit time.Duration, name, qtype string, want ...string) time.Duration {
		t.Helper()
		start := time.Now()
		var got []string
		for time.Since(start) < limit {
			if got = ask(name, qtype); slices.Equal(got, want) {
				return time.Since(start)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s: the secondary answers %s %s with %v after %v, want %v\nnsd log:\n%s", what, name, qtype, got, limit, want, readFile(root, "nsd/nsd.log"))
		return 0
	}

	waitFor("first transfer", 15*time.Second, "static.example.test", "A", "192.0.2.5")
	// The load-balanced name: every enabled endpoint of the pool failover answers with when all
	// are up; the standby's address is not in the copy.
	if got := ask("www.example.test", "A"); !slices.Equal(got, []string{"192.0.2.10", "192.0.2.11"}) {
		t.Errorf("secondary answers www A with %v, want the primary pool's 192.0.2.10, 192.0.2.11", got)
	}
	if got := ask("added.example.test", "A"); got != nil {
		t.Fatalf("added.example.test is served before it is added: %v", got)
	}

	// Add a record and reload: the serial rises, the secondary is notified and copies again.
	v.Added = true
	writeConfig(t, dir, "secondary.toml.tmpl", v)
	n.signal(syscall.SIGHUP)
	took := waitFor("after the reload", 5*time.Second, "added.example.test", "A", "192.0.2.99")
	t.Logf("the secondary served the added record %v after SIGHUP", took)
	if !strings.Contains(n.stderr.String(), "secondary notified") {
		t.Errorf("meridian logged no NOTIFY acknowledged by the secondary:\n%s", n.stderr.String())
	}

	// Without the key the transfer is refused; with it (dig signs, as BIND does) it is whole.
	m := new(mdns.Msg)
	m.SetQuestion("example.test.", mdns.TypeAXFR)
	resp, _, err := (&mdns.Client{Net: "tcp", Timeout: 2 * time.Second}).Exchange(m, fmt.Sprintf("127.0.0.1:%d", p.DNS))
	if err != nil || resp.Rcode != mdns.RcodeRefused || len(resp.Answer) != 0 {
		t.Errorf("unsigned AXFR: %v %v, want REFUSED and no records", resp, err)
	}
	out := dig(t, "127.0.0.1", p.DNS, "-y", "hmac-sha256:xfr-key:"+secondarySecret, "example.test", "AXFR")
	if !strings.Contains(out, "added.example.test.") || strings.Contains(out, "Transfer failed") || strings.Contains(out, "tsig verify failure") {
		t.Errorf("signed AXFR with dig:\n%s", out)
	}

	_, metrics := get(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", p.HTTP))
	for _, want := range []string{
		`meridian_dns_transfers_total{qtype="AXFR",result="refused",zone="example.test."} 1`,
		`meridian_dns_notifies_total{result="ok",zone="example.test."}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}

// startNSD runs NSD unprivileged on 127.0.0.10:port as the secondary of example.test, copying it
// from Meridian on 127.0.0.1:primary with the xfr-key, and taking its NOTIFYs (signed with it).
func startNSD(t *testing.T, bin, root string, port, primary int) {
	t.Helper()
	dir := filepath.Join(root, "nsd")
	mkdir(t, dir)
	conf := fmt.Sprintf(`server:
	ip-address: 127.0.0.10@%d
	username: ""
	chroot: ""
	zonesdir: %q
	database: ""
	pidfile: %q
	xfrdfile: %q
	xfrdir: %q
	zonelistfile: %q
	logfile: %q
	verbosity: 2
	server-count: 1
	do-ip6: no
remote-control:
	control-enable: no
key:
	name: "xfr-key"
	algorithm: hmac-sha256
	secret: %q
zone:
	name: "example.test"
	zonefile: "example.test.zone"
	request-xfr: 127.0.0.1@%d xfr-key
	allow-notify: 127.0.0.1 xfr-key
`, port, dir, filepath.Join(dir, "nsd.pid"), filepath.Join(dir, "xfrd.state"), dir, filepath.Join(dir, "zone.list"), filepath.Join(dir, "nsd.log"), secondarySecret, primary)
	path := filepath.Join(dir, "nsd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin+"-checkconf", path).CombinedOutput(); err != nil {
		t.Fatalf("nsd-checkconf: %v\n%s", err, out)
	}
	// NSD answers (SERVFAIL for a zone it has no copy of yet) once it listens.
	runDaemon(t, "nsd", func() bool {
		m := new(mdns.Msg)
		m.SetQuestion("example.test.", mdns.TypeSOA)
		_, _, err := (&mdns.Client{Timeout: 200 * time.Millisecond}).Exchange(m, fmt.Sprintf("127.0.0.10:%d", port))
		return err == nil
	}, bin, "-d", "-c", path)
}

func readFile(dir, name string) string {
	b, _ := os.ReadFile(filepath.Join(dir, name))
	return string(b)
}
