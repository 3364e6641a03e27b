package test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

var (
	rulesFile     = filepath.Join("..", "deploy", "prometheus", "meridian-rules.yml")
	rulesTestFile = filepath.Join("..", "deploy", "prometheus", "meridian-rules.test.yml")
	dashboardFile = filepath.Join("..", "deploy", "grafana", "meridian.json")
	metricName    = regexp.MustCompile(`\bmeridian_[a-z0-9_]+`)
)

// TestAlertRules: promtool (Prometheus's own checker) accepts the shipped alerting rules and
// their unit tests pass: each alert fires on series shaped as a node exports them.
func TestAlertRules(t *testing.T) {
	promtool := lookPromtool(t)
	if out, err := exec.Command(promtool, "check", "rules", rulesFile).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	cmd := exec.Command(promtool, "test", "rules", filepath.Base(rulesTestFile))
	cmd.Dir = filepath.Dir(rulesTestFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// TestDeployNamesExportedMetrics: every metric the alert rules and the Grafana dashboard name
// is on a real node's /metrics — a node in cluster mode (one etcd member) with an https
// monitor, an L7 proxy listener and a signed zone, after DNS queries and proxied requests — and
// every dashboard expression is valid PromQL (promtool checks them as recording rules).
func TestDeployNamesExportedMetrics(t *testing.T) {
	promtool := lookPromtool(t)
	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	wanted := map[string][]string{} // metric → where it is named
	for _, line := range strings.Split(string(rules), "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "expr:") {
			for _, m := range metricName.FindAllString(l, -1) {
				wanted[m] = append(wanted[m], "rules")
			}
		}
	}
	exprs := dashboardExprs(t)
	for title, es := range exprs {
		for _, e := range es {
			for _, m := range metricName.FindAllString(e, -1) {
				wanted[m] = append(wanted[m], "dashboard panel "+title)
			}
		}
	}
	if len(wanted) < 20 {
		t.Fatalf("only %d metrics named by the rules and the dashboard: %v", len(wanted), wanted)
	}

	// The dashboard's expressions, with Grafana's variables given values, as recording rules.
	var rec strings.Builder
	rec.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	i := 0
	for _, title := range slices.Sorted(maps.Keys(exprs)) {
		for _, e := range exprs[title] {
			e = strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*").Replace(e)
			i++
			fmt.Fprintf(&rec, "      - record: dashboard:expr%d\n        expr: %q\n", i, e)
		}
	}
	recFile := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(recFile, []byte(rec.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", recFile).CombinedOutput(); err != nil {
		t.Fatalf("a dashboard expression is not valid PromQL: %v\n%s", err, out)
	}

	exported := scrapeRichNode(t)
	for _, m := range slices.Sorted(maps.Keys(wanted)) {
		base := m
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(m, suf); ok && exported[b] == "histogram" {
				base = b
			}
		}
		if exported[base] == "" {
			t.Errorf("%s (named by %s) is not exported by a node", m, strings.Join(slices.Compact(wanted[m]), ", "))
		}
	}
}

func lookPromtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: apt-get install prometheus (bash .ci/run does it)")
	}
	return p
}

// dashboardExprs reads the Grafana dashboard: panel title → its targets' expressions. Every
// panel other than a row must have a Prometheus datasource and at least one expression.
func dashboardExprs(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			Type string `json:"type"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	}
	var d struct {
		Title  string  `json:"title"`
		UID    string  `json:"uid"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" {
		t.Errorf("%s: no title or uid", dashboardFile)
	}
	out := map[string][]string{}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || len(p.Targets) == 0 {
			t.Errorf("panel %q: no Prometheus datasource or no target", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				t.Errorf("panel %q: a target with no expression", p.Title)
			}
			out[p.Title] = append(out[p.Title], tg.Expr)
		}
	}
	return out
}

// scrapeRichNode runs a node with most of what Meridian can do switched on, exercises it, and
// returns the metric families on its /metrics: name → type.
func scrapeRichNode(t *testing.T) map[string]string {
	t.Helper()
	ec := startEtcd(t, 1)
	dir := t.TempDir()
	key := dnssecKeygen(t, dir, "example.test")
	tlsBackend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsBackend.Listener = l
	tlsBackend.StartTLS()
	t.Cleanup(tlsBackend.Close)
	plain := startBackend(t, "127.0.0.1:0")
	proxyAddr := fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t, "127.0.0.1"))
	p := freePorts(t)
	conf := fmt.Sprintf(`[server]
node = "rich"
dns = ["127.0.0.1:%d"]
http = "127.0.0.1:%d"
data_dir = "data"

[cluster]
endpoints = [%q]
prefix = "/meridian-deploy/"

[monitors.tls]
kind = "https"
insecure = true
interval = "200ms"
timeout = "100ms"
rise = 1
fall = 1

[regions.r]

[pools.web]
region = "r"
monitor = "tls"
endpoints = [{ address = "127.0.0.1", probe = %q }]

[proxy.web]
listen = %q
backends = [{ address = %q }]

[zones."example.test"]
ns = ["ns1"]
[[zones."example.test".records]]
name = "ns1"
type = "A"
data = "127.0.0.1"
[zones."example.test".services.www]
pools = ["web"]
[zones."example.test".dnssec]
keys = [%q]
`, p.DNS, p.HTTP, ec.endpoints()[0], l.Addr().String(), proxyAddr, plain.addr, key)
	path := filepath.Join(dir, "meridian.toml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	startNode(t, dir, p, "serve", "-c", path)

	c := &mdns.Client{Timeout: 2 * time.Second}
	for _, name := range []string{"www.example.test.", "ns1.example.test.", "nope.example.test."} {
		m := new(mdns.Msg)
		m.SetQuestion(name, mdns.TypeA)
		m.SetEdns0(1232, true)
		if _, _, err := c.Exchange(m, fmt.Sprintf("127.0.0.1:%d", p.DNS)); err != nil {
			t.Fatalf("query %s: %v", name, err)
		}
	}
	for range 3 {
		if resp, err := http.Get("http://" + proxyAddr + "/"); err == nil {
			resp.Body.Close()
		}
	}
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", p.HTTP)
	families := map[string]string{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := get(t, metrics)
		for _, line := range strings.Split(body, "\n") {
			if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
				families[f[2]] = f[3]
			}
		}
		// The https probe's certificate expiry and the cluster gauge come once a probe ran and
		// the node joined.
		if families["meridian_health_tls_cert_expiry_timestamp_seconds"] != "" && families["meridian_cluster_up"] != "" {
			return families
		}
		if time.Now().After(deadline) {
			t.Logf("metrics so far: %v", slices.Sorted(maps.Keys(families)))
			return families
		}
		time.Sleep(200 * time.Millisecond)
	}
}
