package plan

import (
	"slices"
	"testing"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/health"
)

func ids(ts []health.Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.ID)
	}
	slices.Sort(out)
	return out
}

// TestPlans: explicit backends with a monitor are probed by the node (IDs
// proxy/NAME/host:port, at their own address) but left out of the remote probers' plan; a
// standalone proxy probes only the pools its listeners use; disabled endpoints and pools
// without a monitor are not probed.
func TestPlans(t *testing.T) {
	cfg, err := config.Parse("p.toml", []byte(`
[monitors.web]
kind = "http"
interval = "2s"
[regions.eu]
continents = ["EU"]
[pools.used]
region = "eu"
monitor = "web"
endpoints = [{ address = "127.0.1.1" }, { address = "127.0.1.2", enabled = false }]
[pools.other]
region = "eu"
monitor = "web"
endpoints = [{ address = "127.0.2.1", probe = "127.0.9.9:81" }]
[pools.unmonitored]
region = "eu"
endpoints = [{ address = "127.0.3.1" }]
[proxy.web]
listen = "127.0.0.1:0"
pool = "used"
port = 8080
[proxy.raw]
mode = "tcp"
listen = "127.0.0.1:0"
monitor = "web"
backends = [{ address = "[::1]:9001" }]
`))
	if err != nil {
		t.Fatal(err)
	}
	node := ForNode(cfg)
	if got, want := ids(node.Local()), []string{"other/127.0.2.1", "proxy/raw/[::1]:9001", "used/127.0.1.1"}; !slices.Equal(got, want) {
		t.Errorf("node plan = %v, want %v", got, want)
	}
	if got, want := ids(node.Remote()), []string{"other/127.0.2.1", "used/127.0.1.1"}; !slices.Equal(got, want) {
		t.Errorf("remote plan = %v, want %v", got, want)
	}
	if got, want := ids(ForProxy(cfg).Local()), []string{"proxy/raw/[::1]:9001", "used/127.0.1.1"}; !slices.Equal(got, want) {
		t.Errorf("standalone proxy plan = %v, want %v", got, want)
	}
	var mon *health.Monitor
	for _, tg := range node.Targets() {
		switch tg.ID {
		case "proxy/raw/[::1]:9001":
			if tg.Addr.String() != "[::1]:9001" || !tg.Key.IsBackend() || tg.Key.Proxy != "raw" {
				t.Errorf("explicit backend: %+v", tg)
			}
		case "other/127.0.2.1":
			if tg.Addr.String() != "127.0.9.9:81" || tg.Key.Pool != "other" {
				t.Errorf("endpoint with a probe address: %+v", tg)
			}
		}
		if mon != nil && tg.Monitor != mon {
			t.Errorf("%s has its own copy of monitor web", tg.ID)
		}
		mon = tg.Monitor
		if r, ok := node.Rules()[tg.ID]; !ok || r.Interval != mon.Interval {
			t.Errorf("%s: rule %+v, want interval %s", tg.ID, r, mon.Interval)
		}
	}
}
