package main

import (
	"testing"

	"github.com/meridian-gslb/meridian/config"
)

// TestProxyPlans: explicit backends with a monitor are probed by the node (IDs
// proxy/NAME/host:port, at their own address) but left out of the remote probers' plan; a
// standalone proxy probes only the pools its listeners use.
func TestProxyPlans(t *testing.T) {
	cfg, err := config.Parse("p.toml", []byte(`
[monitors.web]
kind = "http"
[regions.eu]
continents = ["EU"]
[pools.used]
region = "eu"
monitor = "web"
endpoints = [{ address = "127.0.1.1" }]
[pools.other]
region = "eu"
monitor = "web"
endpoints = [{ address = "127.0.2.1" }]
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
	ids := func(ts []string) map[string]bool {
		m := map[string]bool{}
		for _, id := range ts {
			m[id] = true
		}
		return m
	}
	full, rules := fullPlan(cfg)
	var fullIDs, remoteIDs, proxyIDs []string
	for _, tg := range full {
		fullIDs = append(fullIDs, tg.ID)
		if tg.ID == "proxy/raw/[::1]:9001" && tg.Addr.String() != "[::1]:9001" {
			t.Errorf("explicit backend probed at %s, want its own address", tg.Addr)
		}
	}
	for _, tg := range *remotePlan(full) {
		remoteIDs = append(remoteIDs, tg.ID)
	}
	pt, _ := proxyPlan(cfg)
	for _, tg := range pt {
		proxyIDs = append(proxyIDs, tg.ID)
	}
	if f := ids(fullIDs); len(f) != 3 || !f["used/127.0.1.1"] || !f["other/127.0.2.1"] || !f["proxy/raw/[::1]:9001"] {
		t.Errorf("node plan = %v, want both pools' endpoints and the explicit backend", fullIDs)
	}
	if _, ok := rules["proxy/raw/[::1]:9001"]; !ok {
		t.Errorf("no store rule for the explicit backend: %v", rules)
	}
	if r := ids(remoteIDs); len(r) != 2 || r["proxy/raw/[::1]:9001"] {
		t.Errorf("remote plan = %v, want the pools' endpoints only", remoteIDs)
	}
	if p := ids(proxyIDs); len(p) != 2 || !p["used/127.0.1.1"] || !p["proxy/raw/[::1]:9001"] {
		t.Errorf("standalone plan = %v, want pool used and the explicit backend", proxyIDs)
	}
}
