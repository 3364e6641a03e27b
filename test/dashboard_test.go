package test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	mdns "github.com/miekg/dns"
)

// chromiumPath is the browser the dashboard test drives; CI installs it (.ci/run).
const chromiumPath = "/usr/bin/chromium"

// artifactDir is where tests leave files for people to look at: $MERIDIAN_ARTIFACTS, else
// test/artifacts (gitignored).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MERIDIAN_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// newBrowser starts headless Chromium for the test and returns a tab's context.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: %v; CI must run the browser test (bash .ci/run installs chromium)", chromiumPath, err)
		}
		t.Skipf("%s: %v; apt-get install chromium to run the browser test", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("hide-scrollbars", true), // screenshots as wide as the viewport
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first run starts the browser, which lives as long as its context: no timeout here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return ctx
}

// TestDashboard drives the dashboard in a real browser: it shows the endpoints on a world map,
// and when pool a's backends die the page marks region a down, without a reload, within the
// failover bound; after they are back, the health history still shows the outage.
func TestDashboard(t *testing.T) {
	ctx := newBrowser(t)
	h := startHealthNodeFrom(t, "dashboard.toml.tmpl", "200ms", nil)
	url := fmt.Sprintf("http://127.0.0.1:%d/", h.vars.HTTP)
	// interval × fall + timeout + ttl, as /api/v1/services reports it for www.example.test.
	const bound = 5500 * time.Millisecond

	b := tab{t, ctx}
	wait, eval, screenshot := b.wait, b.eval, b.screenshot

	took := wait("open the dashboard", 20*time.Second,
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(`#svc-body [data-endpoint="127.0.1.1"][data-state="up"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#svc-body [data-endpoint="127.0.1.2"][data-state="up"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#regions li[data-region="a"][data-state="up"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#map [data-region="a"][data-state="up"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#regions li[data-region="b"][data-state="up"]`)),
	)
	eval(`window.meridianTestMark = "set"`) // a reload would wipe it out
	t.Logf("dashboard showed every endpoint up %v after navigation", took.Round(time.Millisecond))
	if node := eval(`document.querySelector("h1 .node").textContent`); node != "e2e-dashboard" {
		t.Errorf("header node %q, want e2e-dashboard", node)
	}
	if eval(`String(document.querySelector('#map [data-region="b"]') !== null)`) != "false" {
		t.Error("region b, which has no coordinates, is on the map; want it only in the list")
	}
	checkMap(t, b)

	h.bs[0].kill()
	h.bs[1].kill()
	took = wait("region a down after pool a's backends died", bound+2*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`#regions li[data-region="a"][data-state="down"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#map [data-region="a"][data-state="down"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#svc-body [data-endpoint="127.0.1.1"][data-state="down"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#timeline li`)),
	)
	t.Logf("region a shown down %v after its backends died (bound %v + 2s)", took.Round(time.Millisecond), bound)
	screenshot("dashboard-region-down.png")

	h.bs[0] = startBackend(t, h.bs[0].addr)
	h.bs[1] = startBackend(t, h.bs[1].addr)
	took = wait("region a up after its backends came back", bound+2*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`#regions li[data-region="a"][data-state="up"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#svc-body [data-endpoint="127.0.1.2"][data-state="up"]`)),
	)
	t.Logf("region a shown up again %v after its backends came back", took.Round(time.Millisecond))
	if eval(`String(window.meridianTestMark)`) != "set" {
		t.Error("the page was reloaded; want live updates without a reload")
	}
	// The flap stays visible: pool a's strip and its endpoints' hold the down period, now up.
	wait("the health history shows pool a up again after its outage", 5*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`#history [data-history-pool="a"] .seg[data-state="down"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#history [data-history-pool="a"] .seg[data-state="up"]:last-child`)),
		chromedp.WaitVisible(chromedp.CSS(`#history [data-history-endpoint="127.0.1.1"] .seg[data-state="down"]`)),
	)
	checkHistory(t, b)

	// Queries for www.example.test show as its q/s, fed by the server's sampler, without a reload.
	sent := make(chan int, 1)
	go func() {
		c := &mdns.Client{Net: "udp", Timeout: time.Second}
		m := new(mdns.Msg)
		m.SetQuestion("www.example.test.", mdns.TypeA)
		ok := 0
		for range 200 {
			if r, _, err := c.Exchange(m, fmt.Sprintf("127.0.0.1:%d", h.vars.DNS)); err == nil && len(r.Answer) > 0 {
				ok++
			}
			time.Sleep(5 * time.Millisecond)
		}
		sent <- ok
	}()
	const qps = `document.querySelector('[data-qps-service="www.example.test."]')`
	start := time.Now()
	for {
		if v := eval(`String(parseFloat(` + qps + `?.textContent ?? "0"))`); v != "0" && v != "NaN" {
			t.Logf("www.example.test shown at %s q/s %v after the queries started; %s", v, time.Since(start).Round(time.Millisecond),
				eval(qps+`.closest(".rate").getAttribute("aria-label")`))
			break
		}
		if time.Since(start) > 3*time.Second {
			t.Fatalf("www.example.test q/s still %q 3s after the queries started", eval(qps+`?.textContent ?? "missing"`))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The service page shows the answers by region: pool a's region answered them all.
	eval(`location.hash = "#service/www.example.test."`)
	const byRegion = `document.querySelector('[data-qps-answers="www.example.test. from region a"]')`
	for start := time.Now(); eval(`String(!!`+byRegion+`)`) != "true"; time.Sleep(100 * time.Millisecond) {
		if time.Since(start) > 3*time.Second {
			t.Fatal("the service page shows no answers-by-region rate for region a")
		}
	}
	t.Logf("service page, answers from region a: %s", eval(byRegion+`.closest(".rate").getAttribute("aria-label")`))
	eval(`location.hash = ""`)
	// The map shades region a by its answers: a disc under its marker.
	wait("region a's answers on the map", 5*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`#map-load .load[data-region="a"] circle`)))
	t.Logf("map: region a answering %s q/s (mean of the last 10 s)", eval(`document.querySelector('#map-load .load[data-region="a"]').dataset.qps`))
	if n := <-sent; n < 190 {
		t.Errorf("%d of 200 queries answered", n)
	}
	screenshot("dashboard-rates.png") // 1280 × 800: the map, the outage in the last hour, the rates
	// Zoomed in on the last five minutes, the same outage is twelve times as wide.
	hour := checkHistory(t, b)
	wait("zoom the history to 5 min", 5*time.Second,
		chromedp.Click(chromedp.CSS(`.hist-spans [data-span="5"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.hist-spans [data-span="5"][aria-pressed="true"]`)))
	if zoomed := checkHistory(t, b); zoomed < 8*hour {
		t.Errorf("pool a's down period spans %.3f%% of the strip over 5 min and %.3f%% over the hour, want 12 times as much zoomed in", zoomed, hour)
	}
	screenshot("dashboard-desktop-5min.png")
	if eval(`String(window.meridianTestMark)`) != "set" {
		t.Error("the page was reloaded for the rates; want live updates")
	}

	// Keyboard only: focus the service's link, press Enter, and the service page opens.
	wait("open the service page with the keyboard", 10*time.Second,
		chromedp.Focus(chromedp.CSS(`#svc-body tr[data-service="www.example.test."] th a`)),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`#detail-name`)),
	)
	if got := eval(`document.getElementById("detail-name").textContent`); got != "www.example.test." {
		t.Errorf("Enter on the focused service link opened %q, want www.example.test.", got)
	}
	eval(`location.hash = ""`)

	wait("phone width", 10*time.Second, chromedp.EmulateViewport(390, 844))
	if got := eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); got != "true" {
		t.Error("at a phone's width the page scrolls sideways; want it to fit")
	}
	checkMap(t, b)
	checkHistory(t, b)
	screenshot("dashboard-phone.png")
}

// checkMap: the map draws Natural Earth's land (make worldmap embeds it), and region a's
// marker sits over land, where its coordinates (50.1° N, 8.7° E) project on the page.
func checkMap(t *testing.T, b tab) {
	t.Helper()
	var m struct {
		Land            string
		PathLen         int
		BoxW, BoxH      float64
		CX, CY          float64
		OnLand, SeaLand bool
		Off             float64 // page pixels between the marker's centre and the projection
		Inside          bool
	}
	js := b.eval(`(() => {
		const svg = document.getElementById("map"), land = document.getElementById("map-land");
		const c = svg.querySelector('#map-regions [data-region="a"] circle');
		const x = 8.7 + 180, y = 90 - 50.1; // equirectangular, as web/internal/mkworld draws the land
		const out = { land: svg.dataset.land, pathLen: land ? land.getAttribute("d").length : 0, cx: +c.getAttribute("cx"), cy: +c.getAttribute("cy") };
		if (land) {
			const bb = land.getBBox();
			Object.assign(out, { boxW: bb.width, boxH: bb.height, onLand: land.isPointInFill(new DOMPoint(x, y)),
				seaLand: land.isPointInFill(new DOMPoint(-30 + 180, 90 - 30)) }); // the mid-Atlantic
		}
		const p = new DOMPoint(x, y).matrixTransform(svg.getScreenCTM());
		const r = c.getBoundingClientRect(), s = svg.getBoundingClientRect();
		const mx = r.left + r.width / 2, my = r.top + r.height / 2;
		out.off = Math.hypot(mx - p.x, my - p.y);
		out.inside = mx > s.left && mx < s.right && my > s.top && my < s.bottom;
		return JSON.stringify(out);
	})()`)
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("map facts %s: %v", js, err)
	}
	if m.Land != "drawn" || m.PathLen < 10_000 {
		t.Fatalf("the map has no world outline (data-land %q, path of %d bytes): run `make worldmap`, which writes web/static/world.svg-path for the binary to embed", m.Land, m.PathLen)
	}
	if m.BoxW < 350 || m.BoxH < 120 {
		t.Errorf("land outline spans %.0f × %.0f map units, want the world's (about 360 × 140)", m.BoxW, m.BoxH)
	}
	if m.CX != 188.7 || m.CY != 39.9 {
		t.Errorf("region a's marker at (%v, %v), want (188.7, 39.9): lon + 180, 90 − lat", m.CX, m.CY)
	}
	if !m.OnLand || m.SeaLand {
		t.Errorf("land at region a (Frankfurt) %v, want true; in the mid-Atlantic %v, want false", m.OnLand, m.SeaLand)
	}
	if m.Off > 1 || !m.Inside {
		t.Errorf("region a's marker is %.1f px from where its coordinates project (inside the map: %v), want ≤ 1 px and inside", m.Off, m.Inside)
	}
}

// checkHistory: pool a's strip shows its outage as a down period wide enough to see, followed
// by up, and says so in words. It returns the down period's share of the strip, in percent
// (drawn at least 3 px wide, however short).
func checkHistory(t *testing.T, b tab) float64 {
	t.Helper()
	var h struct {
		Width   float64 // px of the widest down period
		Share   float64 // its percent of the strip
		Summary string
		Label   string
	}
	js := b.eval(`(() => {
		const strip = document.querySelector('#history [data-history-pool="a"]');
		const downs = [...strip.querySelectorAll('.seg[data-state="down"]')];
		return JSON.stringify({ width: Math.max(0, ...downs.map(d => d.getBoundingClientRect().width)),
			share: Math.max(0, ...downs.map(d => parseFloat(d.style.width))),
			summary: strip.parentElement.querySelector(".hist-sum").textContent, label: strip.getAttribute("aria-label") });
	})()`)
	if err := json.Unmarshal([]byte(js), &h); err != nil {
		t.Fatalf("history facts %s: %v", js, err)
	}
	if h.Width < 2 {
		t.Errorf("pool a's down period is %.1f px wide, want ≥ 2 px to be seen", h.Width)
	}
	if !strings.HasPrefix(h.Summary, "down 1×") {
		t.Errorf("pool a's history says %q, want down 1×", h.Summary)
	}
	t.Logf("history: %s (%.1f px, %.3f%% of the strip)", h.Label, h.Width, h.Share)
	return h.Share
}

// tab is a browser tab a test drives.
type tab struct {
	t   *testing.T
	ctx context.Context
}

// wait runs the steps with a deadline (the browser stays up for the next ones) and returns how
// long they took.
func (b tab) wait(why string, within time.Duration, steps ...chromedp.Action[chromedp.Void]) time.Duration {
	b.t.Helper()
	start := time.Now()
	wctx, cancel := context.WithTimeout(b.ctx, within)
	defer cancel()
	if err := chromedp.Do(wctx, steps...); err != nil {
		b.t.Fatalf("%s: %v (within %v)", why, err, within)
	}
	return time.Since(start)
}

// eval evaluates a JavaScript expression whose value is a string.
func (b tab) eval(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// screenshot saves the whole page as name in the artifacts directory.
func (b tab) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(artifactDir(b.t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}
