// Command propagation measures how fast a health state change reaches each consumer of a
// running `meridian serve` (its DNS answers, its in-node proxy, its event stream) and of a
// `meridian proxy -node URL` that follows it, through the binary's public interfaces only:
// DNS over UDP, the HTTP API and the CLI. It then measures the embedded demo's idle CPU.
//
//	go run ./test/bench/propagation -bin bin/meridian [-n 200] [-idle 30s] [-o OUTDIR]
//
// See test/bench/README.md, "Propagation benchmark".
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/template"
	"time"

	"github.com/miekg/dns"
)

const (
	qname     = "www.prop.test."
	target    = "primary/127.0.0.1" // the endpoint whose override is toggled
	primaryIP = "127.0.0.1"
	backupIP  = "127.0.0.2"
	timeout   = 5 * time.Second // per transition and consumer
	pollEvery = time.Millisecond
	maxPolls  = 20000 // per consumer and transition, besides the timeout
)

// consumers, in the table's order; sse is the only one not polled.
var consumers = []string{"dns", "proxy", "sse", "remote-proxy"}

func main() {
	bin := flag.String("bin", "", "meridian binary to measure (required)")
	n := flag.Int("n", 200, "transitions, alternating force-down and clear of "+target)
	idle := flag.Duration("idle", 30*time.Second, "idle CPU window for the embedded demo (0 skips it)")
	gap := flag.Duration("gap", time.Second, "transitions start 50ms plus a random 0..gap after the previous one settles, out of phase with the consumers' poll ticks")
	out := flag.String("o", "", "output directory (default /tmp/meridian-propagation.DATE)")
	flag.Parse()
	if *bin == "" || *n < 1 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./test/bench/propagation -bin PATH [-n 200] [-idle 30s] [-gap 1s] [-o OUTDIR]")
		os.Exit(2)
	}
	if *out == "" {
		*out = "/tmp/meridian-propagation." + time.Now().Format("20060102-150405")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *bin, *n, *idle, *gap, *out); err != nil {
		fmt.Fprintln(os.Stderr, "propagation:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin string, n int, idle, gap time.Duration, out string) error {
	began := time.Now()
	abs, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if idle > 0 { // fail before the long part, not after it
		if err := demoPortsFree(); err != nil {
			return err
		}
	}
	b, err := setup(ctx, abs, out)
	if b != nil {
		defer b.close()
	}
	if err != nil {
		return err
	}
	samples, err := b.measure(ctx, n, gap)
	if err != nil {
		return err
	}
	b.close()
	report := table(abs, samples, int(b.downStatus.Load()))
	fmt.Print(report)
	txt := filepath.Join(out, "propagation.txt")
	if err := os.WriteFile(txt, []byte(report), 0o644); err != nil {
		return err
	}
	if err := writeCSV(filepath.Join(out, "samples.csv"), samples); err != nil {
		return err
	}
	extra := ""
	if idle > 0 {
		cpu, err := idleCPU(ctx, abs, out, idle)
		if err != nil {
			return fmt.Errorf("idle CPU: %w", err)
		}
		extra = fmt.Sprintf("idle CPU (embedded demo, %s after 5s warm-up): %.2f ms CPU per second\n", idle, cpu)
	}
	extra += fmt.Sprintf("run took %s\n", time.Since(began).Round(time.Second))
	fmt.Print(extra)
	if err := os.WriteFile(txt, []byte(report+extra), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s: propagation.txt, samples.csv and the processes' logs\n", out)
	for i, c := range consumers {
		if !slices.ContainsFunc(samples, func(s sample) bool { return s.ok[i] }) {
			return fmt.Errorf("consumer %s never saw a transition in %d tries", c, len(samples))
		}
	}
	return nil
}

// --- processes ---

// proc is one meridian process; its stdout and stderr go to a log file and a tail buffer.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *os.File
	tail tail
	done chan struct{}
	err  error // of Wait, once done is closed
}

func start(name, dir, logPath, bin string, args ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &proc{name: name, log: f, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout = io.MultiWriter(f, &p.tail)
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// fail wraps err with the process's output tail.
func (p *proc) fail(err error) error {
	return fmt.Errorf("%s: %w\n--- %s output (last lines; full log %s) ---\n%s", p.name, err, p.name, p.log.Name(), p.tail.String())
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL after 5 s.
func (p *proc) stop() {
	if p == nil {
		return
	}
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	p.log.Close()
}

// tail keeps the last 4 KiB written to it.
type tail struct {
	mu sync.Mutex
	b  []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = append([]byte(nil), t.b[len(t.b)-4096:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// waitFor polls ok every 50 ms until it holds, p exits, ctx ends or d passes.
func waitFor(ctx context.Context, p *proc, d time.Duration, what string, ok func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := ok()
		if err == nil {
			return nil
		}
		if p.exited() {
			return p.fail(fmt.Errorf("exited (%v) while waiting for %s", p.err, what))
		}
		if time.Now().After(deadline) {
			return p.fail(fmt.Errorf("%s: not within %s: %v", what, d, err))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// --- setup ---

// bench is the running node, the standalone proxy and the clients that watch them.
type bench struct {
	bin, out, dir string
	token         string
	primary       int // backends: 127.0.0.1:primary, 127.0.0.2:backup
	backup        int
	nodeDNS       string
	nodeHTTP      string
	nodeProxy     string
	remoteProxy   string
	serve, proxy  *proc
	backends      []*http.Server
	api, poll     *http.Client // overrides; the in-node proxy poller
	remote        *http.Client
	stopStream    context.CancelFunc
	events        chan sseEvent
	downStatus    atomic.Int32 // the last non-200 status through a proxy
}

// loopbackClient never uses an environment proxy, keeps connections alive, and times out.
func loopbackClient(d time.Duration) *http.Client {
	return &http.Client{Timeout: d, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute}}
}

func setup(ctx context.Context, bin, out string) (*bench, error) {
	dir, err := os.MkdirTemp("", "meridian-prop-")
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	b := &bench{bin: bin, out: out, dir: dir, token: hex.EncodeToString(tok),
		api: loopbackClient(5 * time.Second), poll: loopbackClient(time.Second), remote: loopbackClient(250 * time.Millisecond)}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(b.token+"\n"), 0o600); err != nil {
		return b, err
	}
	for _, be := range []struct {
		host string
		port *int
	}{{primaryIP, &b.primary}, {backupIP, &b.backup}} {
		l, err := net.Listen("tcp", be.host+":0")
		if err != nil {
			return b, fmt.Errorf("backend on %s: %w", be.host, err)
		}
		s := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "ok\n")
		})}
		go s.Serve(l)
		b.backends = append(b.backends, s)
		*be.port = l.Addr().(*net.TCPAddr).Port
	}
	// Ports are found free and then given to meridian, so another process can take one in
	// between: a start that fails to bind is retried on new ports.
	for attempt := 1; ; attempt++ {
		err := b.start(ctx)
		if err == nil {
			return b, nil
		}
		b.serve.stop()
		b.proxy.stop()
		b.serve, b.proxy = nil, nil
		os.RemoveAll(filepath.Join(b.dir, "data")) // no state from the failed start
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") || ctx.Err() != nil {
			return b, err
		}
		fmt.Fprintf(os.Stderr, "propagation: port taken, retrying on new ports: %v\n", err)
	}
}

// shared is the monitors, regions and pools of both configs.
const shared = `
[monitors.web]
kind = "http"
path = "/health"
interval = "1s"
timeout = "500ms"
jitter = "0s"
rise = 1
fall = 1

[regions.here]

[pools.primary]
region = "here"
monitor = "web"
endpoints = [{ address = "127.0.0.1", probe = "127.0.0.1:{{.Primary}}" }]

[pools.backup]
region = "here"
monitor = "web"
endpoints = [{ address = "127.0.0.2", probe = "127.0.0.2:{{.Backup}}" }]
`

var nodeConfig = template.Must(template.New("node").Parse(`# written by test/bench/propagation
[server]
node = "prop-node"
dns = ["127.0.0.1:{{.DNS}}"]
http = "127.0.0.1:{{.HTTP}}"
data_dir = "data"
token_file = "token"
` + shared + `
[zones."prop.test"]
ns = ["ns1"]
[[zones."prop.test".records]]
name = "ns1"
type = "A"
data = "127.0.0.1"

[zones."prop.test".services.www]
policy = "failover"
pools = ["primary", "backup"]
answers = 1
ttl = "1s"

[proxy.web]
mode = "http"
listen = "127.0.0.1:{{.Proxy}}"
pool = "primary"
port = {{.Primary}}
`))

// proxyConfig is the standalone proxy's: `meridian proxy` binds only its listeners today, but
// its [server] ports are free ones of its own anyway, should it ever bind them.
var proxyConfig = template.Must(template.New("proxy").Parse(`# written by test/bench/propagation
[server]
node = "prop-remote-proxy"
dns = ["127.0.0.1:{{.DNS}}"]
http = "127.0.0.1:{{.HTTP}}"
data_dir = "data-proxy"
` + shared + `
[proxy.web]
mode = "http"
listen = "127.0.0.1:{{.Proxy}}"
pool = "primary"
port = {{.Primary}}
`))

type ports struct{ DNS, HTTP, Proxy, Primary, Backup int }

func (b *bench) writeConfig(name string, t *template.Template, p ports) (string, error) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		return "", err
	}
	path := filepath.Join(b.dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	if out, err := exec.Command(b.bin, "check", "-c", path).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s check -c %s: %v\n%s", b.bin, path, err, out)
	}
	return path, nil
}

// start writes the configs on fresh ports, starts both processes and waits until every
// consumer sees the primary serving.
func (b *bench) start(ctx context.Context) error {
	var free [6]int
	for i := range free {
		p, err := freePort(i == 0 || i == 3) // the DNS ports: UDP too
		if err != nil {
			return err
		}
		free[i] = p
	}
	np := ports{DNS: free[0], HTTP: free[1], Proxy: free[2], Primary: b.primary, Backup: b.backup}
	pp := ports{DNS: free[3], HTTP: free[4], Proxy: free[5], Primary: b.primary, Backup: b.backup}
	b.nodeDNS = fmt.Sprintf("127.0.0.1:%d", np.DNS)
	b.nodeHTTP = fmt.Sprintf("127.0.0.1:%d", np.HTTP)
	b.nodeProxy = fmt.Sprintf("127.0.0.1:%d", np.Proxy)
	b.remoteProxy = fmt.Sprintf("127.0.0.1:%d", pp.Proxy)
	nodeCfg, err := b.writeConfig("node.toml", nodeConfig, np)
	if err != nil {
		return err
	}
	proxyCfg, err := b.writeConfig("proxy.toml", proxyConfig, pp)
	if err != nil {
		return err
	}
	if b.serve, err = start("meridian serve", b.dir, filepath.Join(b.out, "serve.log"), b.bin, "serve", "-c", nodeCfg); err != nil {
		return err
	}
	up := func(id string) func() error {
		return func() error {
			var e struct{ State string }
			if err := b.getJSON(b.poll, "/api/v1/endpoints/"+id, &e); err != nil {
				return err
			}
			if e.State != "up" {
				return fmt.Errorf("%s is %q", id, e.State)
			}
			return nil
		}
	}
	// backup must be up too, or a forced-down primary is answered anyway (on_all_down = "all").
	for _, id := range []string{target, "backup/" + backupIP} {
		if err := waitFor(ctx, b.serve, 20*time.Second, "endpoint "+id+" up", up(id)); err != nil {
			return err
		}
	}
	if b.proxy, err = start("meridian proxy", b.dir, filepath.Join(b.out, "proxy.log"), b.bin, "proxy", "-c", proxyCfg, "-node", "http://"+b.nodeHTTP); err != nil {
		return err
	}
	checks := []struct {
		p    *proc
		what string
		ok   func(context.Context) (bool, error)
	}{
		{b.serve, "DNS answering " + primaryIP, b.dnsPrimary},
		{b.serve, "in-node proxy available", b.proxyPrimary},
		{b.serve, "in-node proxy serving 200", b.status200(b.nodeProxy)},
		{b.proxy, "standalone proxy serving 200", b.status200(b.remoteProxy)},
	}
	for _, c := range checks {
		err := waitFor(ctx, c.p, 20*time.Second, c.what, func() error {
			ok, err := c.ok(ctx)
			if err == nil && !ok {
				err = errors.New("not yet")
			}
			return err
		})
		if err != nil {
			return err
		}
	}
	var sctx context.Context
	sctx, b.stopStream = context.WithCancel(ctx)
	b.events = make(chan sseEvent, 4096)
	connected := make(chan struct{})
	go b.readStream(sctx, connected)
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		return b.serve.fail(errors.New("GET /api/v1/stream: no response within 10s"))
	}
	return nil
}

// freePort finds a loopback port free for TCP (and UDP).
func freePort(udp bool) (int, error) {
	var last error
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		if udp {
			c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				l.Close()
				last = err
				continue
			}
			c.Close()
		}
		l.Close()
		return p, nil
	}
	return 0, fmt.Errorf("no free loopback port: %v", last)
}

func (b *bench) close() {
	if b.stopStream != nil {
		b.stopStream()
	}
	b.proxy.stop()
	b.serve.stop()
	b.proxy, b.serve = nil, nil
	for _, s := range b.backends {
		s.Close()
	}
	b.backends = nil
	if b.dir != "" {
		os.RemoveAll(b.dir)
		b.dir = ""
	}
}

// --- consumers ---

// dnsPrimary reports whether the node answers the primary (true) or the backup (false).
func (b *bench) dnsPrimary(ctx context.Context) (bool, error) {
	m := new(dns.Msg)
	m.SetQuestion(qname, dns.TypeA)
	m.RecursionDesired = false
	c := &dns.Client{Net: "udp", Timeout: 250 * time.Millisecond}
	r, _, err := c.ExchangeContext(ctx, m, b.nodeDNS)
	if err != nil {
		return false, err
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			switch a.A.String() {
			case primaryIP:
				return true, nil
			case backupIP:
				return false, nil
			}
			return false, fmt.Errorf("unexpected answer %s", a.A)
		}
	}
	return false, fmt.Errorf("no A record (rcode %s)", dns.RcodeToString[r.Rcode])
}

// proxyPrimary reports whether the in-node proxy's backend for the primary is available.
func (b *bench) proxyPrimary(ctx context.Context) (bool, error) {
	var body struct {
		Backends []struct {
			Listener, ID string
			Available    bool
		}
	}
	if err := b.getJSON(b.poll, "/api/v1/proxy", &body); err != nil {
		return false, err
	}
	for _, be := range body.Backends {
		if be.Listener == "web" && be.ID == target {
			return be.Available, nil
		}
	}
	return false, fmt.Errorf("no backend %s in GET /api/v1/proxy", target)
}

// status200 reports whether GET / through the proxy at addr answers 200 (false: any other).
func (b *bench) status200(addr string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
		if err != nil {
			return false, err
		}
		resp, err := b.remote.Do(req)
		if err != nil {
			return false, err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.downStatus.Store(int32(resp.StatusCode))
		}
		return resp.StatusCode == http.StatusOK, nil
	}
}

func (b *bench) getJSON(c *http.Client, path string, v any) error {
	resp, err := c.Get("http://" + b.nodeHTTP + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(v)
}

// poll calls probe about every pollEvery until it reports want; the latency is from t0 to
// the reply that showed it.
func poll(ctx context.Context, probe func(context.Context) (bool, error), t0 time.Time, want bool, limit time.Duration) (time.Duration, bool) {
	deadline := t0.Add(limit)
	for i := 0; i < maxPolls && time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		pctx, cancel := context.WithDeadline(ctx, deadline)
		got, err := probe(pctx)
		cancel()
		if err == nil && got == want {
			return time.Since(t0), true
		}
		time.Sleep(pollEvery)
	}
	return 0, false
}

type sseEvent struct {
	at         time.Time // when the reader got it
	commit     time.Time // the transition's own time: the store's clock as it committed it
	target, to string
}

// readStream reads GET /api/v1/stream and forwards each new `event: event` (by seq, so the
// backlog a reconnect replays is skipped) to b.events; it reconnects at most 20 times.
func (b *bench) readStream(ctx context.Context, connected chan<- struct{}) {
	var once sync.Once
	var lastSeq uint64
	c := &http.Client{Transport: &http.Transport{Proxy: nil}} // the stream lasts: no timeout
	for range 20 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.nodeHTTP+"/api/v1/stream", nil)
		resp, err := c.Do(req)
		if err == nil && resp.StatusCode == http.StatusOK {
			once.Do(func() { close(connected) })
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 64<<10), 8<<20)
			var event, data string
			for sc.Scan() {
				line := sc.Text()
				switch {
				case line == "":
					if event == "event" {
						var e struct {
							Seq        uint64
							At         time.Time
							Target, To string
						}
						if json.Unmarshal([]byte(data), &e) == nil && e.Seq > lastSeq {
							lastSeq = e.Seq
							select {
							case b.events <- sseEvent{at: time.Now(), commit: e.At, target: e.Target, to: e.To}:
							default: // nobody has read 4096 events: drop
							}
						}
					}
					event, data = "", ""
				case strings.HasPrefix(line, "event:"):
					event = strings.TrimSpace(line[len("event:"):])
				case strings.HasPrefix(line, "data:"):
					data += strings.TrimSpace(line[len("data:"):])
				}
			}
		}
		if resp != nil {
			resp.Body.Close()
		}
		if ctx.Err() != nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitEvent waits for the first event, got after t0, of target going to want, and returns
// the transition's commit time too.
func (b *bench) waitEvent(ctx context.Context, t0 time.Time, want string) (time.Duration, time.Time, bool) {
	timer := time.NewTimer(time.Until(t0.Add(timeout)))
	defer timer.Stop()
	for {
		select {
		case e := <-b.events:
			if !e.at.Before(t0) && e.target == target && e.to == want {
				return e.at.Sub(t0), e.commit, true
			}
		case <-timer.C:
			return 0, time.Time{}, false
		case <-ctx.Done():
			return 0, time.Time{}, false
		}
	}
}

// --- the measurement ---

type sample struct {
	down   bool
	t0     time.Time     // just before the override request
	commit time.Time     // the transition's time in the store (from the stream's event); zero if unseen
	api    time.Duration // the override's round trip
	lat    [4]time.Duration
	ok     [4]bool
}

func (b *bench) override(ctx context.Context, down bool) error {
	url := "http://" + b.nodeHTTP + "/api/v1/endpoints/" + target + "/override"
	method, body := http.MethodDelete, ""
	if down {
		method, body = http.MethodPost, `{"kind":"force-down","why":"propagation benchmark"}`
	}
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.api.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

func (b *bench) measure(ctx context.Context, n int, gap time.Duration) ([]sample, error) {
	probes := []func(context.Context) (bool, error){b.dnsPrimary, b.proxyPrimary, nil, b.status200(b.remoteProxy)}
	var samples []sample
	b.downStatus.Store(0)
	fmt.Fprintf(os.Stderr, "propagation: %d transitions of %s; node pid %d, standalone proxy pid %d\n", n, target, b.serve.cmd.Process.Pid, b.proxy.cmd.Process.Pid)
	for i := range n {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50*time.Millisecond + mrand.N(gap+1)):
		}
		for _, p := range []*proc{b.serve, b.proxy} {
			if p.exited() {
				return nil, p.fail(fmt.Errorf("exited (%v) during the measurement", p.err))
			}
		}
		s := sample{down: i%2 == 0}
		want, wantTo := !s.down, "up"
		if s.down {
			wantTo = "down"
		}
		var t0 time.Time
		begin := make(chan struct{})
		var wg sync.WaitGroup
		for c := range consumers {
			wg.Go(func() {
				<-begin
				if probes[c] == nil {
					s.lat[c], s.commit, s.ok[c] = b.waitEvent(ctx, t0, wantTo)
				} else {
					s.lat[c], s.ok[c] = poll(ctx, probes[c], t0, want, timeout)
				}
			})
		}
		time.Sleep(time.Millisecond) // let them park on begin
		t0 = time.Now()
		s.t0 = t0
		close(begin)
		err := b.override(ctx, s.down)
		s.api = time.Since(t0)
		wg.Wait()
		if err != nil {
			return nil, b.serve.fail(err)
		}
		// A consumer that timed out must catch up before the next transition, or its next
		// sample would read the old state as the new one.
		for c, probe := range probes {
			if !s.ok[c] && probe != nil {
				if _, ok := poll(ctx, probe, time.Now(), want, 10*time.Second); !ok {
					fmt.Fprintf(os.Stderr, "propagation: %s still does not show %s 10s after the timeout\n", consumers[c], wantTo)
				}
			}
		}
		samples = append(samples, s)
		if (i+1)%20 == 0 {
			fmt.Fprintf(os.Stderr, "propagation: %d/%d transitions\n", i+1, n)
		}
	}
	return samples, nil
}

// --- output ---

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pct is the nearest-rank percentile q of sorted.
func pct(sorted []time.Duration, q float64) time.Duration {
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func table(bin string, samples []sample, downStatus int) string {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "propagation of %s overrides, meridian %s, %d transitions (%d force-down, %d clear), timeout %s each\n",
		target, bin, len(samples), (len(samples)+1)/2, len(samples)/2, timeout)
	fmt.Fprintf(&buf, "latency from just before the override request to the first observation of the new state\n")
	fmt.Fprintf(&buf, "dns: UDP A %s to the node; proxy: GET /api/v1/proxy \"available\"; sse: GET /api/v1/stream `event: event`;\n", qname)
	fmt.Fprintf(&buf, "remote-proxy: GET / through `meridian proxy -node` on a kept-alive connection (status %d while forced down);\n", downStatus)
	fmt.Fprintf(&buf, "polled ~1ms apart; api-rtt: the override request's round trip\n\n")
	fmt.Fprintf(&buf, "%-13s %5s %8s %8s %8s %8s\n", "consumer", "n", "p50_ms", "p99_ms", "max_ms", "timeouts")
	row := func(name string, ds []time.Duration, timeouts int) {
		if len(ds) == 0 {
			fmt.Fprintf(&buf, "%-13s %5d %8s %8s %8s %8d\n", name, 0, "-", "-", "-", timeouts)
			return
		}
		slices.Sort(ds)
		fmt.Fprintf(&buf, "%-13s %5d %8.2f %8.2f %8.2f %8d\n", name, len(ds), ms(pct(ds, 0.5)), ms(pct(ds, 0.99)), ms(ds[len(ds)-1]), timeouts)
	}
	for c, name := range consumers {
		var ds []time.Duration
		for _, s := range samples {
			if s.ok[c] {
				ds = append(ds, s.lat[c])
			}
		}
		row(name, ds, len(samples)-len(ds))
	}
	var api []time.Duration
	for _, s := range samples {
		api = append(api, s.api)
	}
	row("api-rtt", api, 0)

	// The same, from the store's commit: the transition's own time (the `at` of its event,
	// taken by the committer before it writes and publishes) to each observation, one clock.
	fmt.Fprintf(&buf, "\nfrom the store's commit (the transition's `at`, before its write and fsync) to the observation:\n")
	fmt.Fprintf(&buf, "%-13s %5s %8s %8s %8s %8s\n", "consumer", "n", "p50_ms", "p99_ms", "max_ms", "missing")
	for c, name := range consumers {
		var ds []time.Duration
		for _, s := range samples {
			if s.ok[c] && !s.commit.IsZero() {
				ds = append(ds, max(0, s.t0.Add(s.lat[c]).Sub(s.commit)))
			}
		}
		row(name, ds, len(samples)-len(ds))
	}
	fmt.Fprintf(&buf, "\napi-rtt: the override's POST/DELETE round trip (the node commits before replying): p50 %.2f ms, p99 %.2f ms\n",
		ms(pct(api, 0.5)), ms(pct(api, 0.99)))
	return buf.String()
}

func writeCSV(path string, samples []sample) error {
	var buf bytes.Buffer
	buf.WriteString("i,change,api_ms," + strings.Join(consumers, "_ms,") + "_ms\n")
	for i, s := range samples {
		change := "clear"
		if s.down {
			change = "force-down"
		}
		fmt.Fprintf(&buf, "%d,%s,%.3f", i, change, ms(s.api))
		for c := range consumers {
			if s.ok[c] {
				fmt.Fprintf(&buf, ",%.3f", ms(s.lat[c]))
			} else {
				buf.WriteString(",") // timeout
			}
		}
		buf.WriteString("\n")
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// --- idle CPU ---

// demoAddrs are what `meridian serve` without -c binds (besides its demo backends).
var demoAddrs = []struct{ network, addr string }{
	{"udp", "127.0.0.1:5353"}, {"tcp", "127.0.0.1:5353"}, {"udp", "[::1]:5353"}, {"tcp", "[::1]:5353"},
	{"tcp", "127.0.0.1:8053"}, {"tcp", "127.0.0.1:8080"},
}

func demoPortsFree() error {
	for _, a := range demoAddrs {
		var c io.Closer
		var err error
		if a.network == "udp" {
			c, err = net.ListenPacket(a.network, a.addr)
		} else {
			c, err = net.Listen(a.network, a.addr)
		}
		if err != nil {
			return fmt.Errorf("the embedded demo needs %s %s, which is not free (%v): stop what holds it, or pass -idle 0", a.network, a.addr, err)
		}
		c.Close()
	}
	return nil
}

// idleCPU runs the embedded demo and returns its CPU milliseconds per second over window.
func idleCPU(ctx context.Context, bin, out string, window time.Duration) (float64, error) {
	if err := demoPortsFree(); err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "meridian-prop-demo-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	p, err := start("meridian serve (demo)", dir, filepath.Join(out, "demo.log"), bin, "serve")
	if err != nil {
		return 0, err
	}
	defer p.stop()
	c := loopbackClient(time.Second)
	err = waitFor(ctx, p, 20*time.Second, "http://127.0.0.1:8053/readyz", func() error {
		resp, err := c.Get("http://127.0.0.1:8053/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	c.CloseIdleConnections()
	fmt.Fprintf(os.Stderr, "propagation: idle CPU of the embedded demo (pid %d): 5s warm-up, then %s\n", p.cmd.Process.Pid, window)
	sleep := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	if err := sleep(5 * time.Second); err != nil {
		return 0, err
	}
	t1, err := cpuTicks(p.cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	w0 := time.Now()
	if err := sleep(window); err != nil {
		return 0, err
	}
	t2, err := cpuTicks(p.cmd.Process.Pid)
	elapsed := time.Since(w0)
	if err != nil || p.exited() {
		return 0, p.fail(fmt.Errorf("exited during the idle window: %v", err))
	}
	return float64(t2-t1) * 1000 / clockTicks() / elapsed.Seconds(), nil
}

// cpuTicks is utime+stime of pid, in clock ticks, from /proc/PID/stat.
func cpuTicks(pid int) (uint64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(raw, ')') // the command name may hold spaces
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(raw[i+1:])) // f[0] is field 3, state
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64) // field 14, utime
	s, err2 := strconv.ParseUint(f[12], 10, 64) // field 15, stime
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return u + s, nil
}

// clockTicks is USER_HZ (getconf CLK_TCK), 100 on every Linux that does not say otherwise.
func clockTicks() float64 {
	if out, err := exec.Command("getconf", "CLK_TCK").Output(); err == nil {
		if v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && v > 0 {
			return v
		}
	}
	return 100
}
