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
	"syscall"
	"testing"
	"time"
)

// probeVars fill testdata/probe-node.toml.tmpl.
type probeVars struct {
	ports
	Node, Secret, Interval string
	Backend, Fallback      string
}

// prober is one running `meridian probe` process.
type prober struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
}

// startProber runs `meridian probe`; the process gets SIGTERM when the test ends and must
// then exit 0.
func startProber(t *testing.T, name, secretFile string, nodes ...string) *prober {
	t.Helper()
	args := []string{"probe", "-name", name, "-region", "r-" + name, "-secret-file", secretFile, "-flush", "100ms", "-replan", "1s"}
	for _, n := range nodes {
		args = append(args, "-node", n)
	}
	p := &prober{cmd: exec.Command(bin, args...), stderr: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("prober %s: exit after SIGTERM: %v", name, err)
			}
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("prober %s did not stop within 5s of SIGTERM", name)
		}
		if t.Failed() {
			t.Logf("prober %s stderr:\n%s", name, p.stderr.String())
		}
	})
	return p
}

// startPartitionedBackend is a /health backend that answers 503 to the prober named
// partitioned (its probes' User-Agent is "meridian/<name>") and 200 to everyone else.
func startPartitionedBackend(t *testing.T, partitioned string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{addr: ln.Addr().String(), srv: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path != "/health":
			http.NotFound(w, r)
		case r.UserAgent() == "meridian/"+partitioned:
			http.Error(w, "partitioned", http.StatusServiceUnavailable)
		}
	})}}
	go func() { _ = b.srv.Serve(ln) }()
	t.Cleanup(b.kill)
	return b
}

// apiEndpoint is what the test reads of GET /api/v1/endpoints/{id}.
type apiEndpoint struct {
	State   string `json:"state"`
	Reports []struct {
		Prober string `json:"prober"`
		Region string `json:"region"`
		Up     bool   `json:"up"`
		Err    string `json:"err"`
		Fresh  bool   `json:"fresh"`
	} `json:"reports"`
}

// TestRemoteProbers: three `meridian probe` processes fetch the plan from two nodes and push
// their observations to both. One prober is partitioned from the backend (it sees 503): the
// quorum keeps the endpoint in the answers on both nodes. Killing the backend takes it out on
// both once the probers agree.
func TestRemoteProbers(t *testing.T) {
	root := t.TempDir()
	secretFile := filepath.Join(root, "peer.secret")
	if err := os.WriteFile(secretFile, []byte("correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	be := startPartitionedBackend(t, "p3")
	fallback := startBackend(t, "127.0.0.1:0")

	type meridianNode struct {
		name string
		p    ports
		url  string
	}
	var nodes []meridianNode
	for i := range 2 {
		dir := filepath.Join(root, fmt.Sprint("node", i+1))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := freePorts(t)
		v := probeVars{ports: p, Node: fmt.Sprint("node", i+1), Secret: secretFile, Interval: "200ms",
			Backend: be.addr, Fallback: fallback.addr}
		path := writeConfig(t, dir, "probe-node.toml.tmpl", v)
		startNode(t, dir, p, "serve", "-c", path)
		nodes = append(nodes, meridianNode{name: v.Node, p: p, url: fmt.Sprintf("http://127.0.0.1:%d", p.HTTP)})
	}
	for _, name := range []string{"p1", "p2", "p3"} {
		startProber(t, name, secretFile, nodes[0].url, nodes[1].url)
	}

	endpoint := func(n meridianNode, id string) apiEndpoint {
		t.Helper()
		code, body := get(t, n.url+"/api/v1/endpoints/"+id)
		var e apiEndpoint
		if err := json.Unmarshal([]byte(body), &e); code != http.StatusOK || err != nil {
			t.Fatalf("GET %s endpoint %s: %d %v\n%s", n.name, id, code, err, body)
		}
		return e
	}
	answer := func(n meridianNode) []string {
		f := strings.Fields(dig(t, "127.0.0.1", n.p.DNS, "+short", "www.example.test", "A"))
		slices.Sort(f)
		return f
	}
	// views: prober → "up"/"down" from fresh reports
	views := func(e apiEndpoint) map[string]string {
		m := map[string]string{}
		for _, r := range e.Reports {
			if strings.HasPrefix(r.Prober, "p") && r.Region != "r-"+r.Prober {
				t.Errorf("prober %s reported from region %q, want r-%s (its -region)", r.Prober, r.Region, r.Prober)
			}
			switch {
			case !r.Fresh:
				m[r.Prober] = "stale"
			case r.Up:
				m[r.Prober] = "up"
			default:
				m[r.Prober] = "down"
			}
		}
		return m
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after 10s waiting until %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// Every node hears all three probers and its own: p1, p2 and itself up, p3 down.
	for _, n := range nodes {
		want := map[string]string{n.name: "up", "p1": "up", "p2": "up", "p3": "down"}
		var last map[string]string
		waitUntil(fmt.Sprintf("%s has fresh reports %v", n.name, want), func() bool {
			last = views(endpoint(n, "a/127.0.1.1"))
			return fmt.Sprint(last) == fmt.Sprint(want)
		})
		for _, r := range endpoint(n, "a/127.0.1.1").Reports {
			if r.Prober == "p3" && !strings.Contains(r.Err, "503") {
				t.Errorf("%s: p3's report err %q, want the backend's 503", n.name, r.Err)
			}
		}
	}
	// Over several probe intervals, both nodes keep answering the endpoint.
	for range 8 {
		for _, n := range nodes {
			if got := answer(n); !slices.Equal(got, []string{"127.0.1.1"}) {
				t.Fatalf("%s with p3 partitioned: answer %v, want [127.0.1.1]", n.name, got)
			}
			if e := endpoint(n, "a/127.0.1.1"); e.State != "up" {
				t.Fatalf("%s with p3 partitioned: state %s, want up (reports %v)", n.name, e.State, views(e))
			}
		}
		time.Sleep(150 * time.Millisecond)
	}

	be.kill()
	for _, n := range nodes {
		waitUntil(n.name+" answers the fallback after the backend died", func() bool {
			return slices.Equal(answer(n), []string{"127.0.2.1"})
		})
		want := map[string]string{n.name: "down", "p1": "down", "p2": "down", "p3": "down"}
		waitUntil(fmt.Sprintf("%s has reports %v", n.name, want), func() bool {
			return fmt.Sprint(views(endpoint(n, "a/127.0.1.1"))) == fmt.Sprint(want)
		})
	}

	// An unsigned report is refused.
	resp, err := http.Post(nodes[0].url+"/api/v1/peer/observations", "application/json",
		strings.NewReader(`{"prober":"mallory","observations":[{"target":"a/127.0.1.1","up":true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unsigned report: %s, want 401", resp.Status)
	}
}
