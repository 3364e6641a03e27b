package test

import (
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
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// poolBackend is an HTTP backend on 127.0.1.N:port that answers / with its name (after a
// short pause, so requests overlap) and /health with 200.
type poolBackend struct {
	name, addr string
	srv        *http.Server
	served     atomic.Int64
}

func (b *poolBackend) start(t *testing.T, ln net.Listener) {
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			time.Sleep(2 * time.Millisecond)
			b.served.Add(1)
		}
		io.WriteString(w, b.name)
	})}
	go b.srv.Serve(ln)
	t.Cleanup(b.kill)
}

func (b *poolBackend) kill() { _ = b.srv.Close() }

// restart serves again on the backend's address.
func (b *poolBackend) restart(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		t.Fatal(err)
	}
	b.start(t, ln)
}

// startPoolBackends starts n backends on 127.0.1.1..n sharing one port, like a pool's
// endpoints behind the proxy's port.
func startPoolBackends(t *testing.T, n int) ([]*poolBackend, int) {
	t.Helper()
	for range 20 {
		var lns []net.Listener
		port := 0
		for i := 1; i <= n; i++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.1.%d:%d", i, port))
			if err != nil {
				break
			}
			port = ln.Addr().(*net.TCPAddr).Port
			lns = append(lns, ln)
		}
		if len(lns) < n {
			for _, ln := range lns {
				ln.Close()
			}
			continue
		}
		var bs []*poolBackend
		for i, ln := range lns {
			b := &poolBackend{name: fmt.Sprintf("b%d", i+1), addr: ln.Addr().String()}
			b.start(t, ln)
			bs = append(bs, b)
		}
		return bs, port
	}
	t.Fatal("no port free on 127.0.1.1..n")
	return nil, 0
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// proxyBackendState is what the tests read of GET /api/v1/proxy.
type proxyBackendState struct {
	ID        string `json:"id"`
	Available bool   `json:"available"`
	Draining  bool   `json:"draining"`
	InFlight  int64  `json:"in_flight"`
}

func proxyState(t *testing.T, api, id string) proxyBackendState {
	t.Helper()
	code, body := get(t, api+"/api/v1/proxy")
	if code != 200 {
		t.Fatalf("GET /api/v1/proxy = %d %s", code, body)
	}
	var out struct{ Backends []proxyBackendState }
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	for _, b := range out.Backends {
		if b.ID == id {
			return b
		}
	}
	t.Fatalf("no backend %s in %s", id, body)
	return proxyBackendState{}
}

// waitProxy waits until id's state satisfies ok.
func waitProxy(t *testing.T, api, id, why string, ok func(proxyBackendState) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := proxyState(t, api, id)
		if ok(st) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: backend %s is %+v after 5s", why, id, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// load sends GETs from workers goroutines until stop is closed (or limit requests each), and
// returns the failures' descriptions and the count of requests. Without keepAlive each
// request has a connection of its own (for the tcp listener, which balances connections).
func load(url string, workers, limit int, stop <-chan struct{}, keepAlive bool) (fails []string, total int64) {
	tr := &http.Transport{MaxIdleConnsPerHost: workers, DisableKeepAlives: !keepAlive}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var mu sync.Mutex
	var n atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range limit {
				select {
				case <-stop:
					return
				default:
				}
				n.Add(1)
				resp, err := c.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %s", resp.Status)
					}
				}
				if err != nil {
					mu.Lock()
					fails = append(fails, err.Error())
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return fails, n.Load()
}

const proxyServeConfig = `
[server]
node = "e2e-proxy"
dns = ["127.0.0.1:%[1]d"]
http = "127.0.0.1:%[2]d"
data_dir = "data"
token_file = "token"

[monitors.web]
kind = "http"
interval = "200ms"
timeout = "100ms"
jitter = "0s"
rise = 1
fall = 2
port = %[3]d
path = "/health"

[regions.eu]
continents = ["EU"]

[pools.a]
region = "eu"
monitor = "web"
endpoints = [{ address = "127.0.1.1" }, { address = "127.0.1.2" }, { address = "127.0.1.3" }]

[zones."example.test"]
ns = ["ns1"]
[[zones."example.test".records]]
name = "ns1"
type = "A"
data = "127.0.0.1"

[proxy.web]
listen = "127.0.0.1:%[4]d"
pool = "a"
port = %[3]d
drain_timeout = "2s"
`

// TestProxyServe: `meridian serve` with an L7 listener over a monitored pool of three real
// backends spreads requests; `meridian drain` under load takes a backend out with zero failed
// requests, even when the drained backend is then killed; undrain brings it back; a backend
// killed outright leaves once health sees it down, with no failures after that.
func TestProxyServe(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bs, port := startPoolBackends(t, 3)
	p := freePorts(t)
	lport := freeTCPPort(t)
	path := filepath.Join(dir, "meridian.toml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(proxyServeConfig, p.DNS, p.HTTP, port, lport)), 0o644); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, dir, p, "serve", "-c", path)
	api := fmt.Sprintf("http://127.0.0.1:%d", p.HTTP)
	url := fmt.Sprintf("http://127.0.0.1:%d/", lport)
	if !strings.Contains(n.stdout.String(), fmt.Sprintf("proxy web (http) on 127.0.0.1:%d", lport)) {
		t.Errorf("greeting lacks the proxy listener:\n%s", n.stdout.String())
	}
	for _, b := range bs {
		waitProxy(t, api, "a/"+strings.Split(b.addr, ":")[0], "at start", func(s proxyBackendState) bool { return s.Available })
	}

	// Spread: round robin over three backends.
	if fails, _ := load(url, 1, 30, nil, true); len(fails) > 0 {
		t.Fatalf("30 requests: %d failed: %v", len(fails), fails[0])
	}
	for _, b := range bs {
		if got := b.served.Load(); got != 10 {
			t.Errorf("%s served %d of 30 requests, want 10", b.name, got)
		}
	}

	// Drain under load: 8 clients for ~3 s; b1 is drained, then killed once it has no request
	// in flight, then brought back and undrained.
	cli := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(bin, append([]string{args[0], "-api", api, "-token-file", tokenFile}, args[1:]...)...).CombinedOutput(); err != nil {
			t.Fatalf("meridian %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	stop := make(chan struct{})
	type result struct {
		fails []string
		total int64
	}
	done := make(chan result, 1)
	go func() {
		f, n := load(url, 8, 5000, stop, true)
		done <- result{f, n}
	}()
	time.AfterFunc(3*time.Second, func() { close(stop) })
	time.Sleep(300 * time.Millisecond) // load running before the drain
	cli("drain", "-why", "e2e", "a/127.0.1.1")
	drainedAt := bs[0].served.Load()
	waitProxy(t, api, "a/127.0.1.1", "after drain", func(s proxyBackendState) bool { return s.Draining && !s.Available && s.InFlight == 0 })
	bs[0].kill()
	afterKill := bs[0].served.Load()
	time.Sleep(500 * time.Millisecond) // the load keeps running on b2 and b3
	r := <-done
	t.Logf("drain under load: %d requests, b1 served %d before the drain took effect", r.total, afterKill-drainedAt)
	if len(r.fails) > 0 {
		t.Errorf("drain under load: %d of %d requests failed, want 0; first: %s", len(r.fails), r.total, r.fails[0])
	}
	if r.total < 200 {
		t.Errorf("only %d requests in ~3s of load", r.total)
	}

	bs[0].restart(t)
	cli("undrain", "a/127.0.1.1")
	waitProxy(t, api, "a/127.0.1.1", "after undrain", func(s proxyBackendState) bool { return s.Available })
	before := bs[0].served.Load()
	if fails, _ := load(url, 1, 30, nil, true); len(fails) > 0 {
		t.Fatalf("after undrain: %d failed: %v", len(fails), fails[0])
	}
	if got := bs[0].served.Load() - before; got != 10 {
		t.Errorf("after undrain b1 served %d of 30, want 10", got)
	}

	// A backend killed outright: health takes it down, and no request fails after that.
	bs[2].kill()
	waitProxy(t, api, "a/127.0.1.3", "after killing b3", func(s proxyBackendState) bool { return !s.Available })
	if fails, _ := load(url, 4, 25, nil, true); len(fails) > 0 {
		t.Errorf("after b3's failure was detected: %d of 100 failed: %v", len(fails), fails[0])
	}
	if _, m := get(t, api+"/metrics"); !strings.Contains(m, `meridian_proxy_requests_total{backend="a/127.0.1.2",code="200",listener="web"}`) {
		t.Errorf("metrics lack the proxy's requests:\n%s", grepLines(m, "meridian_proxy"))
	}

	// `meridian proxy -node` follows the node: b3 is down there, and a drain of b2 on the node
	// leaves this proxy sending to b1 alone.
	sport := freeTCPPort(t)
	spath := filepath.Join(dir, "standalone.toml")
	scfg := strings.Replace(fmt.Sprintf(proxyServeConfig, p.DNS, p.HTTP, port, sport), `token_file = "token"`, "", 1)
	scfg = scfg[strings.Index(scfg, "[monitors.web]"):] // no [server]: this process serves no DNS
	if err := os.WriteFile(spath, []byte(scfg), 0o644); err != nil {
		t.Fatal(err)
	}
	follower := startProxyCmd(t, sport, "proxy", "-c", spath, "-node", api).out
	cli("drain", "a/127.0.1.2")
	surl := fmt.Sprintf("http://127.0.0.1:%d/", sport)
	for deadline := time.Now().Add(5 * time.Second); ; {
		b1, b2 := bs[0].served.Load(), bs[1].served.Load()
		fails, _ := load(surl, 1, 10, nil, true)
		if len(fails) > 0 {
			t.Fatalf("through meridian proxy -node: %d of 10 failed: %s", len(fails), fails[0])
		}
		if bs[0].served.Load()-b1 == 10 && bs[1].served.Load() == b2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("meridian proxy -node still sends to b2 5s after the node drained it\n%s", follower.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// proxyProc is a running `meridian proxy` (or other command) process.
type proxyProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer // stdout and stderr
	done chan struct{}
	err  error // Wait's, once done is closed
}

// startProxyCmd runs `meridian args...` and waits until it accepts connections on port; it is
// killed when the test ends.
func startProxyCmd(t *testing.T, port int, args ...string) *proxyProc {
	t.Helper()
	p := &proxyProc{cmd: exec.Command(bin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stderr, p.cmd.Stdout = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("meridian %s output:\n%s", args[0], p.out.String())
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("meridian %s exited: %v\n%s", args[0], p.err, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("meridian %s not listening after 10s\n%s", args[0], p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const proxyStandaloneConfig = `
[monitors.web]
kind = "http"
interval = "200ms"
timeout = "100ms"
jitter = "0s"
rise = 1
fall = 2
path = "/health"

[proxy.db]
mode = "tcp"
listen = "127.0.0.1:%d"
backends = [{ address = "%s" }, { address = "%s" }]
monitor = "web"
drain_timeout = "1s"
`

// TestProxyStandalone: `meridian proxy -c` runs a tcp listener alone, probing its backends
// itself; a killed backend leaves; a bad config on SIGHUP is rejected with file:line while the
// listener keeps serving; SIGTERM stops it cleanly.
func TestProxyStandalone(t *testing.T) {
	dir := t.TempDir()
	bs, _ := startPoolBackends(t, 2)
	lport := freeTCPPort(t)
	path := filepath.Join(dir, "proxy.toml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(proxyStandaloneConfig, lport, bs[0].addr, bs[1].addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProxyCmd(t, lport, "proxy", "-c", path)
	stderr := p.out
	url := fmt.Sprintf("http://127.0.0.1:%d/", lport)
	if fails, _ := load(url, 1, 20, nil, false); len(fails) > 0 {
		t.Fatalf("20 requests through the tcp listener: %d failed: %v", len(fails), fails[0])
	}
	if bs[0].served.Load() == 0 || bs[1].served.Load() == 0 {
		t.Errorf("served b1 %d, b2 %d; want both used", bs[0].served.Load(), bs[1].served.Load())
	}

	bs[0].kill()
	// The proxy's own monitor sees b1 down (fall 2 × 200 ms); no request may fail after that.
	wentDown := func() bool {
		for _, l := range strings.Split(stderr.String(), "\n") {
			if strings.Contains(l, "target=proxy/db/"+bs[0].addr+" ") && strings.Contains(l, "to=down") {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(5 * time.Second); !wentDown(); {
		if time.Now().After(deadline) {
			t.Fatalf("b1 not seen down 5s after it died:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := bs[1].served.Load()
	if fails, _ := load(url, 2, 10, nil, false); len(fails) > 0 {
		t.Errorf("after b1 died: %d of 20 failed: %v", len(fails), fails[0])
	}
	if got := bs[1].served.Load() - before; got != 20 {
		t.Errorf("after b1 died b2 served %d of 20", got)
	}

	if err := os.WriteFile(path, []byte("[proxy.db]\nmode = \"tcp\"\nlisten = \"nope\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(stderr.String(), "still serving the previous config"); {
		if time.Now().After(deadline) {
			t.Fatalf("no rejection logged after SIGHUP with a bad config:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), path+":3:10: proxy.db.listen") {
		t.Errorf("rejection lacks file:line:col of the bad listen:\n%s", stderr.String())
	}
	if fails, _ := load(url, 1, 5, nil, false); len(fails) > 0 {
		t.Errorf("after a rejected reload: %d failed: %v", len(fails), fails[0])
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("meridian proxy exit after SIGTERM: %v", p.err)
		}
	case <-time.After(5 * time.Second):
		t.Error("meridian proxy still running 5s after SIGTERM")
	}
}

// TestProxyCheck: `meridian check` rejects a bad proxy listener with file:line.
func TestProxyCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.toml")
	bad := "[regions.eu]\ncontinents = [\"EU\"]\n[pools.web]\nregion = \"eu\"\nendpoints = [{ address = \"127.0.0.1\" }]\n" +
		"[proxy.web]\nmode = \"tcp\"\nlisten = \"127.0.0.1:8080\"\npool = \"wbe\"\nport = 80\nretries = 3\n"
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "check", "-c", path).CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("check: %v, want exit 1\n%s", err, out)
	}
	for _, want := range []string{
		path + `:9:8: proxy.web.pool: pool "wbe" is not defined (did you mean "web"?)`,
		path + `:11:11: proxy.web.retries: is for http listeners; this one is mode = "tcp"`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}
