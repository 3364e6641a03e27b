package config

import (
	"errors"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func TestDefaultLoads(t *testing.T) {
	cfg, err := Default()
	if err != nil {
		t.Fatalf("embedded default: %v", err)
	}
	if cfg.Source != DefaultSource || cfg.Server.EDNSBuffer != 1232 || len(cfg.Server.DNS) != 2 || cfg.Server.HTTP.String() != "127.0.0.1:8053" {
		t.Errorf("server = %+v", cfg.Server)
	}
	if len(cfg.Zones) != 2 || cfg.Zones[0].Origin != "2.0.192.in-addr.arpa." || cfg.Zones[1].Origin != "example.test." {
		t.Fatalf("zones not sorted by origin: %v", cfg.Zones)
	}
	z := cfg.Zones[1]
	if z.TTL != 300 || z.SOA.Minimum != 60 || z.SOA.RName != "hostmaster.example.test." || z.SOA.MName != "ns1.example.test." || z.NSTTL != 300 {
		t.Errorf("zone defaults = ttl %d %+v nsttl %d", z.TTL, z.SOA, z.NSTTL)
	}
	want := map[string]string{
		"mail.example.test. MX": "example.test.\t300\tIN\tMX\t10 mail.example.test.",
		"TXT":                   "example.test.\t300\tIN\tTXT\t\"v=spf1 mx -all\"",
		"web":                   "web.example.test.\t300\tIN\tCNAME\twww.example.test.",
	}
	texts := map[string]bool{}
	for _, r := range z.Records {
		texts[r.Text] = true
		if r.Line == 0 {
			t.Errorf("record %s has no line", r.Text)
		}
	}
	for k, w := range want {
		if !texts[w] {
			t.Errorf("%s: no record %q", k, w)
		}
	}
}

// TestProblemsListing: one file with many problems reports them all, sorted, with positions.
func TestProblemsListing(t *testing.T) {
	_, err := Load("testdata/bad.toml")
	var probs Problems
	if !errors.As(err, &probs) {
		t.Fatalf("err = %v, want Problems", err)
	}
	if len(probs) < 15 {
		t.Errorf("%d problems, want every one of the 15+ in the file", len(probs))
	}
	for i := 1; i < len(probs); i++ {
		if probs[i].Line < probs[i-1].Line {
			t.Errorf("problems not sorted by line at %d", i)
		}
	}
	got := err.Error() + "\n"
	if *update {
		if err := os.WriteFile("testdata/bad.golden", []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("testdata/bad.golden")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("listing differs from testdata/bad.golden (rerun with -update after checking):\ngot:\n%s", got)
	}
}

func TestSyntaxError(t *testing.T) {
	_, err := Parse("x.toml", []byte("[server]\nnode = \"a\"\ndns = [\"127.0.0.1:53\"\n"))
	var probs Problems
	if !errors.As(err, &probs) || len(probs) != 1 || probs[0].Line != 3 || !strings.Contains(probs[0].Msg, "TOML syntax") {
		t.Fatalf("err = %v, want one syntax problem on line 3", err)
	}
}

func TestSeconds(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"300s", 300, false}, {"5m", 300, false}, {"1h30m", 5400, false}, {"1d", 86400, false},
		{"1w", 604800, false}, {"1w1d", 691200, false}, {"2d12h", 216000, false}, {"0s", 0, false},
		{"1.5s", 0, true}, {"5", 0, true}, {"", 0, true}, {"-5m", 0, true}, {"5 minutes", 0, true}, {"1dx", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseSeconds(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseSeconds(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
		fn             func(string, string) (string, bool)
	}{
		{"apex", "@", "example.test.", true, absName},
		{"relative", "WWW", "www.example.test.", true, absName},
		{"absolute", "Mail.Example.Net.", "mail.example.net.", true, absName},
		{"empty", "", "", false, absName},
		{"rname plain", "hostmaster", "hostmaster.example.test.", true, rname},
		{"rname email", "first.last@example.net", `first\.last.example.net.`, true, rname},
		{"rname bare at", "@", "", false, rname},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.fn(tc.in, "example.test.")
			if ok != tc.ok || (ok && got != tc.want) {
				t.Errorf("(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestTXT(t *testing.T) {
	long := strings.Repeat("a", 300)
	tests := []struct{ name, data, want string }{
		{"plain is one string", `v=spf1 -all`, `"v=spf1 -all"`},
		{"quotes escaped", `say "hi"`, `"say \"hi\""`},
		{"zone syntax kept", `"a" "b"`, `"a" "b"`},
		{"long split at 255", long, `"` + long[:255] + `" "` + long[255:] + `"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rr, err := parseRR("t.example.test.", 60, "TXT", tc.data, "example.test.")
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.SplitN(rr.String(), "\t", 5)[4]; got != tc.want {
				t.Errorf("TXT = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"server", "zones", "node", "dns", "http", "data_dir", "edns_buffer"}
	for in, want := range map[string]string{"servr": "server", "zone": "zones", "edns_bufer": "edns_buffer", "datadir": "data_dir", "completely_different": ""} {
		if got := suggest(in, keys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRelativeDataDir: data_dir is relative to the config file.
func TestRelativeDataDir(t *testing.T) {
	cfg, err := Parse("/etc/meridian/meridian.toml", []byte("[server]\ndata_dir = \"state\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.DataDir != "/etc/meridian/state" {
		t.Errorf("data_dir = %s, want /etc/meridian/state", cfg.Server.DataDir)
	}
}

func TestWildcardListenRejected(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:53", "[::]:53"} {
		_, err := Parse("w.toml", []byte("[server]\ndns = [\""+addr+"\"]\n"))
		var probs Problems
		if !errors.As(err, &probs) || len(probs) != 1 || !strings.Contains(probs[0].Msg, "wildcard addresses are not supported") || probs[0].Line != 2 {
			t.Errorf("%s: err = %v, want one wildcard problem on line 2", addr, err)
		}
	}
}

func TestGSLBConfig(t *testing.T) {
	cfg, err := Load("testdata/gslb.toml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.FailoverTarget != 45*time.Second {
		t.Errorf("failover_target = %v, want 45s", cfg.Server.FailoverTarget)
	}
	if len(cfg.Geo.Databases) != 1 || !strings.HasSuffix(cfg.Geo.Databases[0], "testdata/fake.mmdb") {
		t.Errorf("geo databases = %v, want testdata/fake.mmdb resolved beside the config", cfg.Geo.Databases)
	}
	if got := len(cfg.Regions); got != 3 || cfg.Regions[0].Name != "ap" {
		t.Fatalf("regions = %+v, want 3 sorted by name", cfg.Regions)
	}
	na := cfg.Regions[2]
	if !na.HasCoords || na.Lat != 38.9 || na.Lon != -77.4 || strings.Join(na.Continents, ",") != "NA,SA" || na.Subdivisions[0] != "US-CA" {
		t.Errorf("region na = %+v", na)
	}
	if eu := cfg.Regions[1]; eu.Countries[0] != "DE" || eu.Bias != 10 {
		t.Errorf("region eu = %+v, want country upper-cased and bias 10", eu)
	}
	pools := map[string]Pool{}
	for _, p := range cfg.Pools {
		pools[p.Name] = p
	}
	if p := pools["na-web"]; len(p.Endpoints) != 3 || p.MinHealthy != 2 || p.Endpoints[1].Weight != 3 || p.Endpoints[0].Weight != 1 || !p.Endpoints[2].Addr.Is6() {
		t.Errorf("pool na-web = %+v", p)
	}
	if p := pools["eu-web"]; len(p.Endpoints) != 2 || !p.Endpoints[0].Enabled || p.Endpoints[1].Enabled || p.MinHealthy != 1 {
		t.Errorf("pool eu-web = %+v, want the second endpoint disabled and min_healthy 1", p)
	}
	svcs := cfg.Zones[0].Services
	if len(svcs) != 3 {
		t.Fatalf("services = %+v", svcs)
	}
	byName := map[string]Service{}
	for _, s := range svcs {
		byName[s.Name] = s
	}
	tests := []struct {
		name string
		want Service
	}{
		{"www.gslb.test.", Service{Policy: "geo", Select: "weighted", TTL: 20, DegradedTTL: 5, Answers: 2, Fallback: "na-web", OnAllDown: "fallback", Tolerance: 0.05}},
		{"gslb.test.", Service{Policy: "failover", Select: "weighted", TTL: 30, DegradedTTL: 30, Answers: 1, OnAllDown: "all", Tolerance: 0.05}},
		{"near.gslb.test.", Service{Policy: "proximity", Select: "hash", TTL: 30, DegradedTTL: 30, Answers: 1, OnAllDown: "all", IgnoreECS: true, Tolerance: 0.1}},
	}
	for _, tc := range tests {
		got, ok := byName[tc.name]
		if !ok {
			t.Errorf("no service %s", tc.name)
			continue
		}
		got.Pools, got.Line, got.Name = nil, 0, ""
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("service %s = %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if len(cfg.Monitors) != 3 || cfg.Monitors[2].Name != "web" {
		t.Fatalf("monitors = %+v", cfg.Monitors)
	}
	web, raw, ns := cfg.Monitors[2], cfg.Monitors[1], cfg.Monitors[0]
	if web.Kind != "http" || web.Interval != 2*time.Second || web.Timeout != 500*time.Millisecond || web.Jitter != 200*time.Millisecond ||
		web.Rise != 2 || web.Fall != 2 || web.Port != 18080 || web.Method != "GET" || web.Path != "/health" ||
		web.Headers["X-Probe"] != "meridian" || !reflect.DeepEqual(web.ExpectStatus, []int{200, 204}) || web.QuorumCount != 2 || web.MaxBody != 64<<10 {
		t.Errorf("monitor web = %+v", web)
	}
	if raw.Interval != time.Second || raw.Timeout != 500*time.Millisecond || raw.Rise != 2 || raw.Fall != 3 || raw.QuorumFraction != 0.5 || raw.Send != "PING\r\n" {
		t.Errorf("monitor raw = %+v, want the defaults derived from a 1s interval", raw)
	}
	if ns.QName != "health.example.com." || ns.QType != 16 || ns.ExpectRcode != 3 || ns.Port != 53 {
		t.Errorf("monitor ns = %+v", ns)
	}
	if p := pools["ap-web"]; p.Monitor != "raw" || p.Endpoints[0].Probe.String() != "127.0.3.1:7000" {
		t.Errorf("pool ap-web = %+v, want monitor raw and the probe address", p)
	}
	if p := byName["www.gslb.test."].Pools; strings.Join(p, ",") != "na-web,eu-web,ap-web" {
		t.Errorf("www pools = %v, want configured order", p)
	}
}

// TestGSLBProblems: every cross-reference and value problem of the GSLB tables, at once.
func TestGSLBProblems(t *testing.T) {
	_, err := Load("testdata/bad-gslb.toml")
	if err == nil {
		t.Fatal("bad-gslb.toml loaded")
	}
	got := err.Error()
	golden := "testdata/bad-gslb.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got+"\n" != string(want) {
		t.Errorf("problems:\n%s\nwant:\n%s", got, want)
	}
}

// TestCheckZoneLoss: a reload that drops every zone or more than half of them is refused;
// one that drops half or fewer, renames none, or starts from no zones is not.
func TestCheckZoneLoss(t *testing.T) {
	cfgOf := func(origins ...string) *Config {
		c := &Config{}
		for _, o := range origins {
			c.Zones = append(c.Zones, Zone{Origin: o})
		}
		return c
	}
	tests := []struct {
		name          string
		running, next *Config
		refused       bool
		dropped       int
	}{
		{"same zones", cfgOf("a.", "b."), cfgOf("a.", "b."), false, 0},
		{"every zone dropped", cfgOf("a."), cfgOf(), true, 1},
		{"empty file over three zones", cfgOf("a.", "b.", "c."), cfgOf(), true, 3},
		{"more than half dropped", cfgOf("a.", "b.", "c."), cfgOf("a."), true, 2},
		{"half dropped", cfgOf("a.", "b."), cfgOf("a."), false, 0},
		{"all renamed", cfgOf("a.", "b."), cfgOf("c.", "d."), true, 2},
		{"zones added", cfgOf("a."), cfgOf("a.", "b."), false, 0},
		{"from no zones", cfgOf(), cfgOf(), false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckZoneLoss(tc.running, tc.next)
			var zl *ZoneLossError
			if got := errors.As(err, &zl); got != tc.refused {
				t.Fatalf("refused = %v (%v), want %v", got, err, tc.refused)
			}
			if zl != nil && len(zl.Dropped) != tc.dropped {
				t.Errorf("dropped = %v, want %d zones", zl.Dropped, tc.dropped)
			}
		})
	}
}
