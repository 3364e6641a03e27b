package test

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	mdns "github.com/miekg/dns"
)

// bin is the meridian binary under test: $MERIDIAN_BIN, or built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	bin = os.Getenv("MERIDIAN_BIN")
	if bin == "" {
		dir, err := os.MkdirTemp("", "meridian-e2e")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		bin = filepath.Join(dir, "meridian")
		out, err := exec.Command("go", "build", "-o", bin, "../cmd/meridian").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build meridian: %v\n%s", err, out)
			os.Exit(1)
		}
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// ports are the free ports one node listens on. DNSHost, when set, is the address the node
// serves DNS on instead of 127.0.0.1 (the delegation test runs nodes on 127.0.0.2:53).
type ports struct {
	DNS, HTTP int
	DNSHost   string
}

// freePorts finds a port free for UDP and TCP on both 127.0.0.1 and ::1, and one for HTTP.
func freePorts(t *testing.T) ports {
	t.Helper()
	for range 50 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := u.LocalAddr().(*net.UDPAddr).Port
		var closers []func() error
		ok := true
		for _, a := range []string{fmt.Sprintf("127.0.0.1:%d", p), fmt.Sprintf("[::1]:%d", p)} {
			if l, err := net.Listen("tcp", a); err == nil {
				closers = append(closers, l.Close)
			} else {
				ok = false
			}
			if a[0] == '[' {
				if c, err := net.ListenPacket("udp", a); err == nil {
					closers = append(closers, c.Close)
				} else {
					ok = false
				}
			}
		}
		h, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		hp := h.Addr().(*net.TCPAddr).Port
		h.Close()
		u.Close()
		for _, c := range closers {
			c()
		}
		if ok {
			return ports{DNS: p, HTTP: hp}
		}
	}
	t.Fatal("no free port for UDP+TCP on 127.0.0.1 and ::1")
	return ports{}
}

// writeConfig renders testdata/name (a text/template over ports and extra fields) into dir.
func writeConfig(t *testing.T, dir, name string, data any) string {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "meridian.toml")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// syncBuffer is a bytes.Buffer safe to read while the process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// node is one running meridian process.
type node struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan error
	ports          ports
}

// startNode runs `meridian args...` in dir and waits until /readyz answers 200 and DNS answers
// on the node's port. The process is stopped when the test ends.
func startNode(t *testing.T, dir string, p ports, args ...string) *node {
	t.Helper()
	return startNodeWith(t, bin, dir, p, args...)
}

// startNodeWith is startNode running the binary exe.
func startNodeWith(t *testing.T, exe, dir string, p ports, args ...string) *node {
	t.Helper()
	n := &node{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1), ports: p}
	n.cmd = exec.Command(exe, args...)
	n.cmd.Dir = dir
	n.cmd.Stdout, n.cmd.Stderr = n.stdout, n.stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.done <- n.cmd.Wait() }()
	t.Cleanup(func() {
		n.signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(5 * time.Second):
			n.cmd.Process.Kill()
			<-n.done
		}
		if t.Failed() {
			t.Logf("meridian stderr:\n%s", n.stderr.String())
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if n.ready() {
			return n
		}
		select {
		case err := <-n.done:
			n.done <- err // for the cleanup, which waits for the exit
			t.Fatalf("meridian exited before ready: %v\nstderr:\n%s", err, n.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("meridian not ready after 15s\nstderr:\n%s", n.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *node) signal(s os.Signal) { _ = n.cmd.Process.Signal(s) }

func (n *node) ready() bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", n.ports.HTTP))
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	m := new(mdns.Msg)
	m.SetQuestion("example.test.", mdns.TypeSOA)
	host := n.ports.DNSHost
	if host == "" {
		host = "127.0.0.1"
	}
	_, _, err = (&mdns.Client{Timeout: time.Second}).Exchange(m, net.JoinHostPort(host, fmt.Sprint(n.ports.DNS)))
	return err == nil
}

// dig runs the real dig against the node and returns its output. dig must be installed: CI
// installs dnsutils, and a machine without it fails here rather than skipping.
func dig(t *testing.T, server string, port int, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("dig")
	if err != nil {
		t.Fatal("dig is not installed: apt-get install dnsutils (bash .ci/run does it)")
	}
	full := append([]string{"@" + server, "-p", fmt.Sprint(port), "+norec", "+time=2", "+tries=1"}, args...)
	out, err := exec.Command(path, full...).CombinedOutput()
	if err != nil {
		t.Fatalf("dig %s: %v\n%s", strings.Join(full, " "), err, out)
	}
	return string(out)
}

// digResult is what the tests read from dig's output.
type digResult struct {
	status  string
	flags   []string
	answer  []string // record lines, whitespace-normalised
	auth    []string
	extra   []string
	options string // the OPT PSEUDOSECTION text
	raw     string
}

func parseDig(out string) digResult {
	r := digResult{raw: out}
	section := ""
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.Contains(line, "->>HEADER<<-"):
			if i := strings.Index(line, "status: "); i >= 0 {
				r.status = strings.TrimSuffix(strings.Fields(line[i+8:])[0], ",")
			}
		case strings.HasPrefix(line, ";; flags:"):
			f := strings.TrimPrefix(line, ";; flags:")
			f, _, _ = strings.Cut(f, ";")
			r.flags = strings.Fields(f)
		case strings.HasPrefix(line, ";; ANSWER SECTION"):
			section = "answer"
		case strings.HasPrefix(line, ";; AUTHORITY SECTION"):
			section = "auth"
		case strings.HasPrefix(line, ";; ADDITIONAL SECTION"):
			section = "extra"
		case strings.HasPrefix(line, ";; OPT PSEUDOSECTION"):
			section = "opt"
		case strings.HasPrefix(line, ";; QUESTION SECTION"), line == "":
			section = ""
		case section == "opt":
			r.options += line + "\n"
		case strings.HasPrefix(line, ";"):
		case section != "":
			rec := strings.Join(strings.Fields(line), " ")
			switch section {
			case "answer":
				r.answer = append(r.answer, rec)
			case "auth":
				r.auth = append(r.auth, rec)
			case "extra":
				r.extra = append(r.extra, rec)
			}
		}
	}
	return r
}

func (r digResult) hasFlag(f string) bool {
	for _, x := range r.flags {
		if x == f {
			return true
		}
	}
	return false
}

// runDaemon runs a third-party server (unbound, nsd) for the test: its output is kept and shown
// if the test fails, and it is stopped (TERM, KILL after 5 s) when the test ends. It returns
// once ready says the server answers, failing the test if the server exits first or 10 s pass.
func runDaemon(t *testing.T, name string, ready func() bool, bin string, args ...string) {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !ready() {
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("%s exited: %v\n%s", name, err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not answering after 10s\n%s", name, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
