package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	mdns "github.com/miekg/dns"
)

// TestSpillDashboard drives the dashboard of a node that runs the eu region's proxy listeners
// itself (spill.toml.tmpl with Proxy eu, served by `meridian serve`), with a `meridian proxy`
// for us following it. While the eu backend is dead the page shows, without a reload: eu
// "spilling → us" in the region list and on the map (with a dashed arrow to us), the spilling
// pool in the Services table, www's two failover bounds, and the eu listeners spilling to
// us-web in the Local proxy table; once the backend is back, the marks go.
func TestSpillDashboard(t *testing.T) {
	ctx := newBrowser(t)
	root := t.TempDir()
	backendPort := freeTCPPortOn(t, "127.0.0.44", "127.0.0.45")
	httpPort := freeTCPPortOn(t, "127.0.0.42", "127.0.0.43")
	tcpPort := freeTCPPortOn(t, "127.0.0.42", "127.0.0.43")
	eu := startRegionBackend(t, fmt.Sprintf("127.0.0.44:%d", backendPort), "eu")
	startRegionBackend(t, fmt.Sprintf("127.0.0.45:%d", backendPort), "us")

	p := freePorts(t)
	p.DNSHost = "127.0.0.40"
	v := spillVars{ports: p, Node: "ns1", Proxy: "eu", Backend: backendPort, HTTPPort: httpPort, TCPPort: tcpPort}
	ndir := filepath.Join(root, "node")
	mkdir(t, ndir)
	startNode(t, ndir, p, "serve", "-c", withRegionCoords(t, writeConfig(t, ndir, "spill.toml.tmpl", v)))
	nodeURL := fmt.Sprintf("http://127.0.0.1:%d", p.HTTP)
	waitUntilUp(t, nodeURL, "eu-web/127.0.0.44", "us-web/127.0.0.45")
	udir := filepath.Join(root, "us")
	mkdir(t, udir)
	uv := v
	uv.Proxy = "us"
	startProxy(t, udir, withRegionCoords(t, writeConfig(t, udir, "spill.toml.tmpl", uv)), nodeURL, fmt.Sprintf("127.0.0.43:%d", httpPort))
	waitUntilUp(t, nodeURL, "eu-edge/127.0.0.42", "us-edge/127.0.0.43")

	b := tab{t, ctx}
	wait, eval := b.wait, b.eval
	const www = `#svc-body tr[data-service="www.example.test."]`
	wait("open the dashboard", 20*time.Second,
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(nodeURL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#regions li[data-region="eu"][data-state="up"][data-spilling="false"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#map [data-region="us"][data-state="up"]`)),
		chromedp.WaitVisible(chromedp.CSS(www+` [data-bound="proxy"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#proxy-body [data-spill-listener="eu-http"][data-spilling="false"]`)),
	)
	eval(`window.meridianTestMark = "set"`) // a reload would wipe it out
	// The two bounds, as /api/v1/services computes them: detection only (interval 200ms × fall 2
	// + timeout 150ms), and that plus the 30 s TTL.
	bounds := eval(`document.querySelector('` + www + ` td.bounds').textContent`)
	if !strings.HasPrefix(bounds, "through proxy 0.55 s · DNS-only ") {
		t.Errorf("www's failover bound reads %q, want through proxy 0.55 s · DNS-only …", bounds)
	}
	if dns := eval(`document.querySelector('` + www + ` [data-bound="dns"]').textContent`); !strings.HasPrefix(dns, "DNS-only 3") {
		t.Errorf("www's DNS-only bound reads %q, want about the 30 s TTL and more", dns)
	}
	if got := eval(`document.querySelector('#svc-body tr[data-service="direct.example.test."] td.bounds').textContent`); strings.Contains(got, "proxy") {
		t.Errorf("direct (no proxies) shows bound %q, want one figure", got)
	}

	eu.kill()
	took := wait("eu shown spilling to us after its backend died", 10*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`#regions li[data-region="eu"][data-spilling="true"] .badge.spill[data-spill-to="us"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#map [data-region="eu"][data-spilling="true"] .spill-label`)),
		chromedp.WaitVisible(chromedp.CSS(`#map-spill .spill-flow[data-from="eu"][data-to="us"]`)),
		chromedp.WaitVisible(chromedp.CSS(www+` [data-pool-spill="eu-edge"][data-spill-to="us"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#proxy-body [data-spill-listener="eu-http"][data-spilling="true"][data-spill-to="us-web"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#proxy-body [data-spill-listener="eu-tcp"][data-spilling="true"][data-spill-to="us-web"]`)),
	)
	t.Logf("dashboard showed eu spilling to us %v after the kill", took.Round(time.Millisecond))
	// Requests through the eu proxy are served by us; the Local proxy table counts them.
	for range 20 {
		if body, err := httpGet("127.0.0.42", httpPort); err != nil || body != "us" {
			t.Fatalf("through the eu proxy during the outage: %q, %v; want us", body, err)
		}
	}
	wait("the spilled requests counted", 5*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`#proxy-body [data-spill-listener="eu-http"] .muted`)))
	for start := time.Now(); !strings.Contains(eval(`document.querySelector('#proxy-body [data-spill-listener="eu-http"]').textContent`), "20 spilled"); time.Sleep(100 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("eu-http shows %q, want 20 spilled", eval(`document.querySelector('#proxy-body [data-spill-listener="eu-http"]').textContent`))
		}
	}
	// DNS has moved www to us by now: its answers draw the failover arrow beside the spill's.
	c := &mdns.Client{Timeout: time.Second}
	m := new(mdns.Msg)
	m.SetQuestion("www.example.test.", mdns.TypeA)
	for range 100 {
		r, _, err := c.Exchange(m, fmt.Sprintf("%s:%d", p.DNSHost, p.DNS))
		if err != nil || len(r.Answer) == 0 || r.Answer[0].(*mdns.A).A.String() != "127.0.0.43" {
			t.Fatalf("www during the outage: %v, %v; want the us proxy 127.0.0.43", r, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	wait("www's answers from us drawn as a failover arrow", 5*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`#map-flows .flow[data-from="eu"][data-to="us"]`)))
	t.Logf("region list: %s; map: %s; Local proxy eu-http: %s",
		eval(`document.querySelector('#regions li[data-region="eu"] .badge.spill').textContent`),
		eval(`document.querySelector('#map [data-region="eu"]').getAttribute("aria-label")`),
		eval(`document.querySelector('#proxy-body [data-spill-listener="eu-http"]').textContent`))
	if got := eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); got != "true" {
		t.Error("at 1280 px the page scrolls sideways; want it to fit")
	}
	b.screenshot("dashboard-spill.png")
	mapPNG, err := chromedp.Run(ctx, chromedp.ScreenshotScale(chromedp.CSS(`#overview`), 2))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(artifactDir(t), "dashboard-spill-overview.png"), mapPNG, 0o644); err != nil {
		t.Fatal(err)
	}

	// The service page says it too: eu-edge spilling to us, and both bounds with how they are made.
	eval(`location.hash = "#service/www.example.test."`)
	wait("www's page shows eu-edge spilling", 5*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`#detail-pools [data-detail-spill="eu-edge"] .badge.spill[data-spill-to="us"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail-facts [data-field="proxy-failover-bound"]`)))
	if how := eval(`document.querySelector('#detail-facts [data-field="proxy-failover-bound"]').textContent`); !strings.Contains(how, "through the proxies") {
		t.Errorf("www's page explains the proxy bound as %q, want the API's text", how)
	}
	eval(`location.hash = ""`)

	startRegionBackend(t, eu.addr, "eu")
	wait("eu no longer spilling once its backend is back", 10*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`#regions li[data-region="eu"][data-state="up"][data-spilling="false"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#proxy-body [data-spill-listener="eu-http"][data-spilling="false"]`)),
	)
	if n := eval(`String(document.querySelectorAll("#map-spill path, #svc-body .badge.spill, #map .spill-label").length)`); n != "0" {
		t.Errorf("%s spill marks left after the eu backend came back, want none", n)
	}
	if eval(`String(window.meridianTestMark)`) != "set" {
		t.Error("the page was reloaded; want live updates without a reload")
	}
}

// withRegionCoords puts the regions of the config at path on the map (eu at Frankfurt, us at
// Ashburn): spill.toml.tmpl has none, and the dashboard draws only regions with coordinates.
func withRegionCoords(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "[regions.eu]\n", "[regions.eu]\nlat = 50.1\nlon = 8.7\n", 1)
	s = strings.Replace(s, "[regions.us]\n", "[regions.us]\nlat = 38.9\nlon = -77.4\n", 1)
	if s == string(b) {
		t.Fatalf("%s: no [regions.eu] or [regions.us] to add coordinates to", path)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
