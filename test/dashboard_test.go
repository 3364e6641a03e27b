package test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// TestDashboard drives the dashboard in a real browser: it shows the endpoints, and when pool
// a's backends die the page marks region a down, without a reload, within the failover bound.
func TestDashboard(t *testing.T) {
	ctx := newBrowser(t)
	h := startHealthNodeFrom(t, "dashboard.toml.tmpl", "200ms", nil)
	url := fmt.Sprintf("http://127.0.0.1:%d/", h.vars.HTTP)
	// interval × fall + timeout + ttl, as /api/v1/services reports it for www.example.test.
	const bound = 5500 * time.Millisecond

	b := tab{t, ctx}
	wait, eval, screenshot := b.wait, b.eval, b.screenshot

	took := wait("open the dashboard", 20*time.Second,
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
	if n := <-sent; n < 190 {
		t.Errorf("%d of 200 queries answered", n)
	}
	screenshot("dashboard-rates.png")
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
	screenshot("dashboard-phone.png")
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
