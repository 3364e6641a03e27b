package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// spillBase is two regions, each with a pool of backends and a pool of its proxy's address in
// front of it, and a service over the proxies.
const spillBase = `
[regions.eu]
[regions.us]
[monitors.web]
kind = "http"
port = 8080
[pools.eu-web]
region = "eu"
monitor = "web"
endpoints = [{ address = "127.0.1.1" }]
[pools.us-web]
region = "us"
monitor = "web"
endpoints = [{ address = "127.0.2.1" }, { address = "127.0.2.2", enabled = false }]
[pools.eu-edge]
region = "eu"
fronts = "eu-web"
endpoints = [{ address = "127.0.0.11" }]
[pools.us-edge]
region = "us"
fronts = "us-web"
endpoints = [{ address = "127.0.0.12" }]
[zones."example.test"]
soa = { mname = "ns1.example.test.", rname = "hostmaster.example.test." }
ns = ["ns1.example.test."]
[zones."example.test".services.www]
policy = "failover"
pools = ["eu-edge", "us-edge"]
`

func TestSpillConfig(t *testing.T) {
	tests := []struct {
		name, proxy string
		want        []ProxySpill
		max         int64
		rate        float64
	}{
		{"explicit pools, the listener's port", `spill = ["us-web"]
spill_max_conns = 200
spill_rate = 500.0`, []ProxySpill{{Pool: "us-web", Port: 8080}}, 200, 500},
		{"spill_port", `spill = ["us-web"]
spill_port = 9000`, []ProxySpill{{Pool: "us-web", Port: 9000}}, 0, 0},
		{"from the service's pool order, behind the proxies", `spill_service = "www.example.test"`,
			[]ProxySpill{{Pool: "us-web", Port: 8080}}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("meridian.toml", []byte(spillBase+`
[proxy.eu]
listen = "127.0.0.11:80"
pool = "eu-web"
port = 8080
`+tc.proxy+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			p, _ := cfg.Proxy("eu")
			if !reflect.DeepEqual(p.Spill, tc.want) || p.SpillMaxConns != tc.max || p.SpillRate != tc.rate {
				t.Errorf("spill = %+v max %d rate %v, want %+v max %d rate %v", p.Spill, p.SpillMaxConns, p.SpillRate, tc.want, tc.max, tc.rate)
			}
			if e, _ := cfg.Pool("eu-edge"); e.Fronts != "eu-web" {
				t.Errorf("eu-edge fronts = %q, want eu-web", e.Fronts)
			}
		})
	}
}

func TestSpillProblems(t *testing.T) {
	tests := []struct {
		name, extra, want string
	}{
		{"unknown pool", `spill = ["as-web"]`, `meridian.toml:34:10: proxy.eu.spill[0]: pool "as-web" is not defined`},
		{"own pool", `spill = ["eu-web"]`, `proxy.eu.spill[0]: pool "eu-web" is the listener's own pool`},
		{"a proxy pool", `spill = ["us-edge"]`, `pool "us-edge" fronts proxies (fronts = "us-web"): spill straight to the backends, spill = ["us-web"]`},
		{"twice", `spill = ["us-web", "us-web"]`, `proxy.eu.spill[1]: pool "us-web" is listed twice`},
		{"both", "spill = [\"us-web\"]\nspill_service = \"www.example.test\"", `give either spill (pools, in order) or spill_service`},
		{"unknown service", `spill_service = "api.example.test"`, `proxy.eu.spill_service: service "api.example.test" is not defined`},
		{"cap without spill", `spill_max_conns = 10`, `proxy.eu.spill_max_conns: is for a listener that spills`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("meridian.toml", []byte(spillBase+`
[proxy.eu]
listen = "127.0.0.11:80"
pool = "eu-web"
port = 8080
`+tc.extra+"\n"))
			var probs Problems
			if !errors.As(err, &probs) {
				t.Fatalf("err = %v, want problems", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("problems:\n%v\nwant one containing %q", err, tc.want)
			}
		})
	}
}

func TestFrontsProblems(t *testing.T) {
	for _, tc := range []struct{ fronts, want string }{
		{`"eu-edge"`, "a pool cannot front itself"},
		{`"as-web"`, `pool "as-web" is not defined`},
		{`"us-edge"`, `pool "us-edge" fronts proxies itself`},
	} {
		src := strings.Replace(spillBase, "fronts = \"eu-web\"", "fronts = "+tc.fronts, 1)
		_, err := Parse("meridian.toml", []byte(src))
		if err == nil || !strings.Contains(err.Error(), "pools.eu-edge.fronts: "+tc.want) {
			t.Errorf("fronts = %s: err = %v, want %q", tc.fronts, err, tc.want)
		}
	}
}
