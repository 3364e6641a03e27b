package config

import (
	"crypto/tls"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestProxyConfig(t *testing.T) {
	cfg, err := Load("testdata/proxy.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Proxies) != 3 || cfg.Proxies[0].Name != "db" || cfg.Proxies[1].Name != "plain" || cfg.Proxies[2].Name != "web" {
		t.Fatalf("proxies = %+v, want db, plain, web sorted by name", cfg.Proxies)
	}
	if p, _ := cfg.Pool("eu-web"); p.MaxInFlight != 200 {
		t.Errorf("pool eu-web max_inflight = %d, want 200", p.MaxInFlight)
	}
	if p, _ := cfg.Pool("eu-web-v2"); p.MaxInFlight != 0 {
		t.Errorf("pool eu-web-v2 max_inflight = %d, want the default 0", p.MaxInFlight)
	}
	db, plain, web := cfg.Proxies[0], cfg.Proxies[1], cfg.Proxies[2]

	if web.Mode != ModeHTTP || web.Listen.String() != "127.0.0.1:8080" || web.Pool != "eu-web" || web.Port != 9000 || web.Region != "eu" ||
		web.Algorithm != "consistent_hash" || web.HashKey != "cookie:session" || web.DrainTimeout != 5*time.Second ||
		web.MaxConns != 1000 || web.MaxConnsPerBackend != 100 || web.IdleTimeout != time.Minute ||
		web.HeaderTimeout != 2*time.Second || web.BackendTimeout != 30*time.Second || web.WebSocketIdleTimeout != time.Minute ||
		web.MaxHeaderBytes != 32768 || web.Retries != 1 || web.RetryTimeout != 500*time.Millisecond {
		t.Errorf("proxy web = %+v", web)
	}
	if web.TLS == nil || web.TLS.MinVersion != tls.VersionTLS13 || len(web.TLS.Certs) != 1 || !strings.HasSuffix(web.TLS.Certs[0].Cert, "testdata/proxy-web.pem") {
		t.Errorf("proxy web tls = %+v, want TLS 1.3 and the cert resolved beside the config", web.TLS)
	}
	if web.Sticky == nil || *web.Sticky != (ProxySticky{Cookie: "meridian_sticky", TTL: 10 * time.Minute}) {
		t.Errorf("sticky = %+v, want the default cookie and ttl 10m", web.Sticky)
	}
	if web.RateLimit != (ProxyRateLimit{Rate: 50.5, Burst: 51}) {
		t.Errorf("rate limit = %+v, want burst defaulting to the rate rounded up", web.RateLimit)
	}
	if web.Outlier != (ProxyOutlier{Failures: 3, Base: time.Second, Max: time.Minute}) {
		t.Errorf("outlier = %+v", web.Outlier)
	}
	if len(web.Routes) != 2 {
		t.Fatalf("routes = %+v", web.Routes)
	}
	r0, r1 := web.Routes[0], web.Routes[1]
	r0.Line, r1.Line = 0, 0
	if !reflect.DeepEqual(r0, ProxyRoute{Host: "*.example.com", Path: "/v2/*", Percent: 100, Pool: "eu-web-v2", Port: 9000,
		Algorithm: "consistent_hash", HashKey: "cookie:session"}) {
		t.Errorf("route 0 = %+v, want the listener's port, algorithm and hash key", r0)
	}
	if r1.Header != "X-Canary: 1" || r1.Percent != 10 || len(r1.Backends) != 1 || r1.Backends[0].Addr.String() != "127.0.3.1:7000" ||
		r1.Backends[0].Weight != 2 || r1.Algorithm != "ip_hash" || r1.HashKey != "header:X-User" {
		t.Errorf("route 1 = %+v", r1)
	}

	if db.Mode != ModeTCP || db.Region != "na" || db.Monitor != "raw" || db.Algorithm != "least_conn" || db.ProxyProtocol != "v2" ||
		db.ConnectTimeout != time.Second || db.IdleTimeout != 5*time.Minute || db.DrainTimeout != 30*time.Second || db.HashKey != "ip" ||
		len(db.Backends) != 2 || db.Backends[1].Addr.String() != "[::1]:5433" || db.Backends[1].Weight != 2 || db.Backends[0].Weight != 1 {
		t.Errorf("proxy db = %+v", db)
	}
	if db.Outlier != (ProxyOutlier{Failures: 5, Base: 10 * time.Second, Max: 5 * time.Minute}) {
		t.Errorf("default outlier = %+v, want 5 failures, 10s, 5m", db.Outlier)
	}
	if plain.Listen.Port() != 0 || plain.Algorithm != "round_robin" || plain.Region != "" || plain.TLS != nil || plain.Sticky != nil ||
		plain.Retries != 2 || plain.HeaderTimeout != 10*time.Second || plain.MaxHeaderBytes != 64<<10 || plain.RetryTimeout != 2*time.Second {
		t.Errorf("proxy plain = %+v, want the http defaults", plain)
	}
}

// TestProxyProblems: every kind of proxy problem at once, each with its position.
func TestProxyProblems(t *testing.T) {
	_, err := Load("testdata/proxy-bad.toml")
	var probs Problems
	if !errors.As(err, &probs) {
		t.Fatalf("err = %v, want Problems", err)
	}
	for _, p := range probs {
		if p.Line == 0 {
			t.Errorf("problem without a line: %v", p)
		}
	}
	got := err.Error() + "\n"
	golden := "testdata/proxy-bad.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("problems:\n%s\nwant:\n%s", got, want)
	}
}

func TestProxyListenClash(t *testing.T) {
	base := "[server]\ndns = [\"127.0.0.1:5353\"]\nhttp = \"127.0.0.1:8053\"\n"
	tests := []struct {
		name, toml, want string
	}{
		{"same as another proxy", "[proxy.a]\nlisten = \"127.0.0.1:80\"\nbackends = [{ address = \"127.0.0.1:1\" }]\n[proxy.b]\nlisten = \"127.0.0.1:80\"\nbackends = [{ address = \"127.0.0.1:1\" }]\n",
			`is already the listen address of proxy "a"`},
		{"wildcard overlaps", "[proxy.a]\nlisten = \"127.0.0.1:80\"\nbackends = [{ address = \"127.0.0.1:1\" }]\n[proxy.b]\nlisten = \"0.0.0.0:80\"\nbackends = [{ address = \"127.0.0.1:1\" }]\n",
			`is already the listen address of proxy "a"`},
		{"dns listener", "[proxy.a]\nlisten = \"127.0.0.1:5353\"\nbackends = [{ address = \"127.0.0.1:1\" }]\n", "DNS listener of [server]"},
		{"http listener", "[proxy.a]\nlisten = \"127.0.0.1:8053\"\nbackends = [{ address = \"127.0.0.1:1\" }]\n", "HTTP listener of [server]"},
		{"port 0 never clashes", "[proxy.a]\nlisten = \"127.0.0.1:0\"\nbackends = [{ address = \"127.0.0.1:1\" }]\n[proxy.b]\nlisten = \"127.0.0.1:0\"\nbackends = [{ address = \"127.0.0.1:1\" }]\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("x.toml", []byte(base+tc.toml))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
