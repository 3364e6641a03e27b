package test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proxyReloadConfig: a node with one L7 listener over one explicit backend; %s is the geo
// section, which the rejected reload breaks.
const proxyReloadConfig = `[server]
node = "e2e-proxy-reload"
dns = ["127.0.0.1:%d"]
http = "127.0.0.1:%d"
data_dir = "data"
%s
[zones."example.test"]
ns = ["ns1"]
[[zones."example.test".records]]
name = "ns1"
type = "A"
data = "127.0.0.1"

[proxy.web]
listen = "127.0.0.1:%d"
backends = [{ address = "%s" }]
`

// TestRejectedReloadKeepsTheProxy: a reload whose proxy part is fine but whose DNS part fails
// to load (a geo database that is not one) is rejected as a whole: the proxy keeps sending to
// the running config's backend, not the new file's.
func TestRejectedReloadKeepsTheProxy(t *testing.T) {
	dir := t.TempDir()
	named := func(name string) *http.Server {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) })}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		srv.Addr = ln.Addr().String()
		return srv
	}
	a, b := named("a"), named("b")
	pport := freeTCPPort(t)
	p := freePorts(t)
	path := filepath.Join(dir, "meridian.toml")
	write := func(geo, backend string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(fmt.Sprintf(proxyReloadConfig, p.DNS, p.HTTP, geo, pport, backend)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("", a.Addr)
	n := startNode(t, dir, p, "serve", "-c", path)
	via := func() string {
		t.Helper()
		_, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", pport))
		return body
	}
	if got := via(); got != "a" {
		t.Fatalf("through the proxy: %q, want a", got)
	}

	// The file names a "database" that is not one: config checks pass (it is readable), the DNS
	// handler cannot open it.
	if err := os.WriteFile(filepath.Join(dir, "broken.mmdb"), []byte("not a maxmind database"), 0o644); err != nil {
		t.Fatal(err)
	}
	write("[geo]\ndatabases = [\"broken.mmdb\"]\n", b.Addr)
	n.signal(syscall.SIGHUP)
	waitLog(t, n, "config rejected", 10*time.Second)
	for range 10 {
		if got := via(); got != "a" {
			t.Fatalf("after a rejected reload the proxy answers from %q, want the running config's a", got)
		}
	}

	write("", b.Addr) // a good reload moves it
	n.signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for via() != "b" {
		if time.Now().After(deadline) {
			t.Fatalf("a good reload did not move the proxy to b:\n%s", grepLines(n.stderr.String(), "reload"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(n.stderr.String(), "not restored") {
		t.Errorf("the proxies were not restored after the rejected reload:\n%s", n.stderr.String())
	}
}
