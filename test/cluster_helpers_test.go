package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	mdns "github.com/miekg/dns"
)

// The cluster tests run real etcd members (the Debian etcd 3.4 binary, /usr/bin/etcd) and real
// Meridian nodes, all on 127.0.0.1, each test with its own etcd cluster, ports and directories.

// clusterToken is the API token of every node of a test cluster (the file "token" beside each
// node's config, and beside the operator's files).
const clusterToken = "s3cret"

// etcdMember is one etcd process of an etcdCluster; it keeps its data directory across restarts.
type etcdMember struct {
	name, dir    string
	client, peer int
	args         []string
	out          *syncBuffer // every run's output, appended
	cmd          *exec.Cmd
	done         chan error // the running process's exit; nil when not running
}

func (m *etcdMember) url() string { return fmt.Sprintf("http://127.0.0.1:%d", m.client) }

// etcdCluster is a static etcd cluster on loopback, stopped when the test ends.
type etcdCluster struct {
	t       *testing.T
	bin     string
	members []*etcdMember
}

// startEtcd starts an n-member etcd cluster on free loopback ports and waits until every member
// reports itself healthy. etcd must be installed: CI installs it, and a machine without it fails
// here rather than skipping.
func startEtcd(t *testing.T, n int) *etcdCluster {
	t.Helper()
	path, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatal("etcd is not installed: apt-get install etcd-server (the cluster tests run real etcd members)")
	}
	root := t.TempDir() // before the cleanup below, so that it is removed after the members stop
	ps := distinctFreeTCPPorts(t, 2*n)
	c := &etcdCluster{t: t, bin: path}
	var initial []string
	for i := range n {
		m := &etcdMember{
			name: fmt.Sprintf("m%d", i+1), dir: filepath.Join(root, fmt.Sprintf("m%d", i+1)),
			client: ps[2*i], peer: ps[2*i+1], out: &syncBuffer{},
		}
		c.members = append(c.members, m)
		initial = append(initial, fmt.Sprintf("%s=http://127.0.0.1:%d", m.name, m.peer))
	}
	token := fmt.Sprintf("meridian-e2e-%d", time.Now().UnixNano())
	for _, m := range c.members {
		peer := fmt.Sprintf("http://127.0.0.1:%d", m.peer)
		m.args = []string{
			"--name", m.name, "--data-dir", m.dir,
			"--listen-client-urls", m.url(), "--advertise-client-urls", m.url(),
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", token,
			"--logger", "zap", "--log-level", "warn",
		}
	}
	t.Cleanup(func() {
		c.stopAll()
		if t.Failed() {
			for _, m := range c.members {
				t.Logf("etcd %s output (tail):\n%s", m.name, tailOf(m.out.String(), 3000))
			}
		}
	})
	c.startAll()
	return c
}

// distinctFreeTCPPorts finds n different free TCP ports on 127.0.0.1, holding them all until the
// last is found so that none is handed out twice.
func distinctFreeTCPPorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out
}

func (c *etcdCluster) endpoints() []string {
	var out []string
	for _, m := range c.members {
		out = append(out, m.url())
	}
	return out
}

func (c *etcdCluster) start(m *etcdMember) {
	c.t.Helper()
	if m.done != nil {
		return
	}
	m.cmd = exec.Command(c.bin, m.args...)
	m.cmd.Stdout, m.cmd.Stderr = m.out, m.out
	if err := m.cmd.Start(); err != nil {
		c.t.Fatalf("start etcd %s: %v", m.name, err)
	}
	done := make(chan error, 1)
	go func() { done <- m.cmd.Wait() }()
	m.done = done
}

// startAll starts every member that is not running (same flags, same data directories: a
// restarted member rejoins with its data) and waits until all of them are healthy.
func (c *etcdCluster) startAll() {
	c.t.Helper()
	for _, m := range c.members {
		c.start(m)
	}
	c.waitHealthy(30 * time.Second)
}

// waitHealthy waits until every running member answers GET /health with {"health":"true"}
// (it has a leader and serves), at most limit.
func (c *etcdCluster) waitHealthy(limit time.Duration) {
	c.t.Helper()
	hc := http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for _, m := range c.members {
		for m.done != nil {
			select {
			case err := <-m.done:
				m.done <- err
				c.t.Fatalf("etcd %s exited: %v\n%s", m.name, err, tailOf(m.out.String(), 3000))
			default:
			}
			resp, err := hc.Get(m.url() + "/health")
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var h struct{ Health string }
				if resp.StatusCode == http.StatusOK && json.Unmarshal(b, &h) == nil && h.Health == "true" {
					break
				}
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("etcd %s not healthy after %v\n%s", m.name, limit, tailOf(m.out.String(), 3000))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// stopWith signals m and waits for it to exit (SIGKILL after 10 s).
func (c *etcdCluster) stopWith(m *etcdMember, sig syscall.Signal) {
	if m.done == nil {
		return
	}
	_ = m.cmd.Process.Signal(sig)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	m.done = nil
}

// kill SIGKILLs member i (0-based).
func (c *etcdCluster) kill(i int) { c.stopWith(c.members[i], syscall.SIGKILL) }

// stopAll SIGTERMs every running member at once and waits for them.
func (c *etcdCluster) stopAll() {
	for _, m := range c.members {
		if m.done != nil {
			_ = m.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, m := range c.members {
		c.stopWith(m, syscall.SIGTERM)
	}
}

// leader is the index of the member that is the raft leader, from a running member's
// maintenance status (the gRPC gateway, no client library); -1 if none says.
func (c *etcdCluster) leader() int {
	hc := http.Client{Timeout: 2 * time.Second}
	for _, m := range c.members {
		if m.done == nil {
			continue
		}
		resp, err := hc.Post(m.url()+"/v3/maintenance/status", "application/json", strings.NewReader("{}"))
		if err != nil {
			continue
		}
		var st struct {
			Header struct {
				MemberID string `json:"member_id"`
			} `json:"header"`
			Leader string `json:"leader"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil || st.Leader == "" {
			continue
		}
		for j, o := range c.members {
			if o.done == nil {
				continue
			}
			resp, err := hc.Post(o.url()+"/v3/maintenance/status", "application/json", strings.NewReader("{}"))
			if err != nil {
				continue
			}
			var ost struct {
				Header struct {
					MemberID string `json:"member_id"`
				} `json:"header"`
			}
			err = json.NewDecoder(resp.Body).Decode(&ost)
			resp.Body.Close()
			if err == nil && ost.Header.MemberID == st.Leader {
				return j
			}
		}
	}
	return -1
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// clusterVars fill the cluster templates: testdata/cluster.toml.tmpl defines "local" (a node's
// own [server] and [cluster]); each test's template uses it and adds the shared part.
type clusterVars struct {
	ports
	Node      string   // [server] node
	Endpoints []string // [cluster] endpoints: the etcd members' client URLs
	Local     bool     // render the node's own tables (false: the shared part alone, as pushed)

	Probe       string   // ip:port the tcp monitor probes (a clusterAcceptor)
	Proxy       int      // the [proxy.web] listener's port on 127.0.0.1 (0: no proxy)
	BackendPort int      // the proxy's backend port on its pool's endpoints
	Many        []string // the addresses of the drain test's big pool
	Marker      string   // the TXT of v.example.test: which config a node serves
	Latency     bool     // [geo] latency = "latency.csv"
}

// renderCluster renders testdata/tmpl (with testdata/cluster.toml.tmpl) into dir/file.
func renderCluster(t *testing.T, dir, tmpl, file string, v clusterVars) string {
	t.Helper()
	tp, err := template.ParseFiles(filepath.Join("testdata", tmpl), filepath.Join("testdata", "cluster.toml.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tp.ExecuteTemplate(&b, tmpl, v); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeToken(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "token")
	if err := os.WriteFile(path, []byte(clusterToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// clusterNode is one Meridian node of a test cluster.
type clusterNode struct {
	*node
	name, dir, path, api string
}

// startClusterNodes starts n nodes c1..cn on tmpl, each in its own directory with its own
// ports, data_dir and a copy of the token, all pointed at ec. setup, when not nil, adjusts each
// node's variables (and may put files in its directory) before its config is written; args
// follow `serve -c FILE`.
func startClusterNodes(t *testing.T, ec *etcdCluster, n int, tmpl string, setup func(i int, dir string, v *clusterVars), args ...string) []*clusterNode {
	t.Helper()
	root := t.TempDir()
	var out []*clusterNode
	for i := range n {
		cn := &clusterNode{name: fmt.Sprintf("c%d", i+1)}
		cn.dir = filepath.Join(root, cn.name)
		mkdir(t, cn.dir)
		writeToken(t, cn.dir)
		p := freePorts(t)
		v := clusterVars{ports: p, Node: cn.name, Endpoints: ec.endpoints(), Local: true}
		if setup != nil {
			setup(i, cn.dir, &v)
		}
		cn.path = renderCluster(t, cn.dir, tmpl, "meridian.toml", v)
		cn.api = fmt.Sprintf("http://127.0.0.1:%d", p.HTTP)
		cn.node = startNode(t, cn.dir, p, append([]string{"serve", "-c", cn.path}, args...)...)
		out = append(out, cn)
	}
	return out
}

var clusterHTTP = &http.Client{Timeout: 15 * time.Second}

// call sends method path (on the node's API) with the token and body (a string, or a value
// sent as JSON, or nil) and returns the status and the body.
func (n *clusterNode) call(method, path string, body any, header ...string) (int, string, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, "", err
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, n.api+path, r)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+clusterToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := clusterHTTP.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// mustCall is call that fails the test on a transport error or a status other than want.
func (n *clusterNode) mustCall(t *testing.T, want int, method, path string, body any) string {
	t.Helper()
	code, b, err := n.call(method, path, body)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", n.name, method, path, err)
	}
	if code != want {
		t.Fatalf("%s: %s %s: %d %s, want %d", n.name, method, path, code, b, want)
	}
	return b
}

// override sets kind on target id through the node's API, or clears it when kind is "".
func (n *clusterNode) override(id, kind, why string) (int, string, error) {
	if kind == "" {
		return n.call(http.MethodDelete, "/api/v1/endpoints/"+id+"/override", nil)
	}
	return n.call(http.MethodPost, "/api/v1/endpoints/"+id+"/override", map[string]string{"kind": kind, "why": why})
}

// clusterEndpoint is what the tests read of GET /api/v1/endpoints[/{id}].
type clusterEndpoint struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Override *struct {
		Kind string `json:"kind"`
	} `json:"override"`
}

func (e clusterEndpoint) overrideKind() string {
	if e.Override == nil {
		return ""
	}
	return e.Override.Kind
}

// overrides is every target of GET /api/v1/endpoints by ID, with its override kind ("" none).
func (n *clusterNode) overrides() (map[string]string, error) {
	code, b, err := n.call(http.MethodGet, "/api/v1/endpoints", nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/endpoints: %d %s", code, b)
	}
	var out struct{ Endpoints []clusterEndpoint }
	if err := json.Unmarshal([]byte(b), &out); err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, e := range out.Endpoints {
		m[e.ID] = e.overrideKind()
	}
	return m, nil
}

// endpoint is GET /api/v1/endpoints/{id}.
func (n *clusterNode) endpoint(id string) (clusterEndpoint, error) {
	var e clusterEndpoint
	code, b, err := n.call(http.MethodGet, "/api/v1/endpoints/"+id, nil)
	if err != nil {
		return e, err
	}
	if code != http.StatusOK {
		return e, fmt.Errorf("GET /api/v1/endpoints/%s: %d %s", id, code, b)
	}
	return e, json.Unmarshal([]byte(b), &e)
}

// proxyAvailable is the available flag of backend id in GET /api/v1/proxy.
func (n *clusterNode) proxyAvailable(id string) (bool, error) {
	code, b, err := n.call(http.MethodGet, "/api/v1/proxy", nil)
	if err != nil {
		return false, err
	}
	if code != http.StatusOK {
		return false, fmt.Errorf("GET /api/v1/proxy: %d %s", code, b)
	}
	var out struct{ Backends []proxyBackendState }
	if err := json.Unmarshal([]byte(b), &out); err != nil {
		return false, err
	}
	for _, be := range out.Backends {
		if be.ID == id {
			return be.Available, nil
		}
	}
	return false, fmt.Errorf("no backend %s in GET /api/v1/proxy: %s", id, b)
}

// clusterStatus is GET /api/v1/cluster.
type clusterStatus struct {
	Backend  string              `json:"backend"`
	Revision int64               `json:"revision"`
	Agree    bool                `json:"agree"`
	Nodes    []clusterNodeStatus `json:"nodes"`
}

type clusterNodeStatus struct {
	Node             string `json:"node"`
	Revision         int64  `json:"revision"`
	RejectedRevision int64  `json:"rejected_revision"`
	Error            string `json:"error"`
	Heartbeat        string `json:"heartbeat"`
	Agrees           bool   `json:"agrees"`
}

func (s clusterStatus) node(name string) (clusterNodeStatus, bool) {
	for _, n := range s.Nodes {
		if n.Node == name {
			return n, true
		}
	}
	return clusterNodeStatus{}, false
}

func (n *clusterNode) cluster() (clusterStatus, string, error) {
	var s clusterStatus
	code, b, err := n.call(http.MethodGet, "/api/v1/cluster", nil)
	if err != nil {
		return s, "", err
	}
	if code != http.StatusOK {
		return s, b, fmt.Errorf("GET /api/v1/cluster: %d %s", code, b)
	}
	return s, b, json.Unmarshal([]byte(b), &s)
}

// waitClusterNodes waits until GET /api/v1/cluster on nodes[0] lists every node with a
// heartbeat; a failure is reported and the test goes on.
func waitClusterNodes(t *testing.T, nodes []*clusterNode, limit time.Duration) bool {
	t.Helper()
	ok, last := eventually(limit, 100*time.Millisecond, func() (bool, string) {
		s, body, err := nodes[0].cluster()
		if err != nil {
			return false, err.Error()
		}
		for _, n := range nodes {
			ns, found := s.node(n.name)
			if !found || ns.Heartbeat == "" {
				return false, body
			}
		}
		return s.Backend == "etcd", body
	})
	if !ok {
		t.Errorf("GET /api/v1/cluster on %s does not list the %d nodes with heartbeats and backend etcd after %v: %s", nodes[0].name, len(nodes), limit, last)
	}
	return ok
}

// eventually calls f every interval until it says true, at most limit; it returns the last
// detail f gave.
func eventually(limit, interval time.Duration, f func() (bool, string)) (bool, string) {
	deadline := time.Now().Add(limit)
	for {
		ok, detail := f()
		if ok {
			return true, detail
		}
		if time.Now().After(deadline) {
			return false, detail
		}
		time.Sleep(interval)
	}
}

// clusterDNS is a UDP client for the nodes' DNS.
var clusterDNS = &mdns.Client{Net: "udp", Timeout: time.Second}

// query asks the node name/qtype over UDP and returns the reply, or an error for a timeout or
// an rcode other than NOERROR.
func (n *clusterNode) query(name string, qtype uint16) (*mdns.Msg, error) {
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(name), qtype)
	m.RecursionDesired = false
	resp, _, err := clusterDNS.Exchange(m, fmt.Sprintf("127.0.0.1:%d", n.ports.DNS))
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: %w", n.name, name, mdns.TypeToString[qtype], err)
	}
	if resp.Rcode != mdns.RcodeSuccess {
		return resp, fmt.Errorf("%s: %s %s: rcode %s", n.name, name, mdns.TypeToString[qtype], mdns.RcodeToString[resp.Rcode])
	}
	return resp, nil
}

// answerA is the node's A answer for name, sorted.
func (n *clusterNode) answerA(name string) ([]string, error) {
	resp, err := n.query(name, mdns.TypeA)
	if err != nil {
		return nil, err
	}
	out := answerAddrs(resp)
	slices.Sort(out)
	return out, nil
}

// serial is the SOA serial the node answers for zone.
func (n *clusterNode) serial(zone string) (uint32, error) {
	resp, err := n.query(zone, mdns.TypeSOA)
	if err != nil {
		return 0, err
	}
	for _, rr := range resp.Answer {
		if soa, ok := rr.(*mdns.SOA); ok {
			return soa.Serial, nil
		}
	}
	return 0, fmt.Errorf("%s: no SOA in the answer to %s SOA: %v", n.name, zone, resp.Answer)
}

// txt is the node's TXT answer for name, joined.
func (n *clusterNode) txt(name string) (string, error) {
	resp, err := n.query(name, mdns.TypeTXT)
	if err != nil {
		return "", err
	}
	var out []string
	for _, rr := range resp.Answer {
		if tx, ok := rr.(*mdns.TXT); ok {
			out = append(out, strings.Join(tx.Txt, ""))
		}
	}
	return strings.Join(out, " "), nil
}

// clusterAcceptor listens on addr and accepts and closes TCP connections until the test ends:
// what the tcp monitors of the cluster configs probe. It returns the listening address.
func clusterAcceptor(t *testing.T, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// percentile is the nearest-rank p-th percentile (0 < p <= 100) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// fmtMS formats d in milliseconds with one decimal.
func fmtMS(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// runCLI runs meridian args in dir and returns its stdout, stderr and exit status.
func runCLI(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("meridian %s: no exit after 30s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout.String(), stderr.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// count is how many keys under prefix the cluster holds, read from the first running member
// through the gRPC gateway (for the tests' diagnostics); -1 when no member answers.
func (c *etcdCluster) count(prefix string) int {
	hc := http.Client{Timeout: 2 * time.Second}
	end := []byte(prefix)
	end[len(end)-1]++
	body, _ := json.Marshal(map[string]any{"key": []byte(prefix), "range_end": end, "count_only": true})
	for _, m := range c.members {
		if m.done == nil {
			continue
		}
		resp, err := hc.Post(m.url()+"/v3/kv/range", "application/json", bytes.NewReader(body))
		if err != nil {
			continue
		}
		var out struct {
			Count string `json:"count"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil {
			continue
		}
		n, _ := strconv.Atoi(out.Count)
		return n
	}
	return -1
}

// compact is body on one line (the API indents its JSON).
func compact(body string) string { return strings.Join(strings.Fields(body), " ") }
