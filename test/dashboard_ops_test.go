package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardService drives the service page (#service/NAME) in a real browser: the
// per-prober evidence, the explain form, and drain/undrain with the API token, whose effect
// arrives over the stream without a reload; a wrong token is refused inline.
func TestDashboardService(t *testing.T) {
	ctx := newBrowser(t)
	const token = "s3cret-dashboard-token"
	h := startHealthNodeFrom(t, "dashboard-ops.toml.tmpl", "200ms", func(dir string) {
		if err := os.WriteFile(filepath.Join(dir, "token"), []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d/", h.vars.HTTP)

	b := tab{t, ctx}
	wait, eval := b.wait, b.eval
	css := func(sel string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.CSS(sel)) }
	ep1 := `#detail .endpoint[data-id="a/127.0.1.1"]`

	// From the overview, the service's name is a link to its page.
	wait("open the overview", 20*time.Second,
		chromedp.Navigate(base),
		css(`#svc-body tr[data-service="www.example.test."] th a`),
	)
	if href := eval(`document.querySelector('#svc-body tr[data-service="www.example.test."] th a').getAttribute("href")`); href != "#service/www.example.test." {
		t.Errorf("service link href %q, want #service/www.example.test.", href)
	}
	wait("follow the link to the service page", 20*time.Second,
		chromedp.Click(chromedp.CSS(`#svc-body tr[data-service="www.example.test."] th a`)),
		css(`#detail-name`),
		css(ep1+` tr[data-prober="e2e-dashboard"]`),
	)
	if eval(`String(document.getElementById("services").hidden)`) != "true" {
		t.Error("the overview is still shown on the service page")
	}
	eval(`window.meridianTestMark = "set"`) // a reload would wipe it out

	// The evidence: one row per prober, this node's own, up and fresh, for every endpoint.
	wait("evidence rows up and fresh", 20*time.Second,
		css(ep1+` tr[data-prober="e2e-dashboard"] .badge[data-state="up"]`),
		css(ep1+` tr[data-prober="e2e-dashboard"] .tag[data-fresh="true"]`),
		css(`#detail .endpoint[data-id="b/127.0.2.1"] tr[data-prober="e2e-dashboard"]`),
		css(`#detail [data-endpoint="127.0.1.1"][data-state="up"]`),
	)
	if got := eval(`document.querySelector('#detail-facts [data-field="failover-bound"]').textContent`); got == "" {
		t.Error("no failover bound text on the service page")
	}
	if got := eval(`document.getElementById("explain-name").value`); got != "www.example.test." {
		t.Errorf("explain name prefilled %q, want www.example.test.", got)
	}

	// Explain.
	wait("explain for 192.0.2.1", 20*time.Second,
		chromedp.SendKeys(chromedp.CSS(`#explain-client`), "192.0.2.1"),
		chromedp.Click(chromedp.CSS(`#explain button[type="submit"]`)),
		css(`#explain-out`),
	)
	if out := eval(`document.getElementById("explain-out").textContent`); !strings.Contains(out, "outcome answer") {
		t.Errorf("explanation %q, want it to contain \"outcome answer\"", out)
	}
	wait("explain a bad client shows an error", 20*time.Second,
		chromedp.SetValue(chromedp.CSS(`#explain-client`), "not-an-ip"),
		chromedp.Click(chromedp.CSS(`#explain button[type="submit"]`)),
		css(`#explain-err`),
	)
	wait("explain again", 20*time.Second,
		chromedp.SetValue(chromedp.CSS(`#explain-client`), "192.0.2.0/24"),
		chromedp.Click(chromedp.CSS(`#explain button[type="submit"]`)),
		css(`#explain-out`),
	)

	// Without a token, drain asks for one; a wrong token is refused inline.
	wait("drain without a token asks for it", 10*time.Second,
		chromedp.Click(chromedp.CSS(ep1+` button[data-action="drain"]`)),
		css(ep1+` .error`),
	)
	wait("a wrong token is refused", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS(`#token`), "wrong-token"),
		chromedp.Click(chromedp.CSS(`#token-form button[type="submit"]`)),
		chromedp.Click(chromedp.CSS(ep1+` button[data-action="drain"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('`+ep1+` .error').textContent.includes("401")`),
	)
	if got := eval(`String(document.cookie)`); got != "" {
		t.Errorf("cookies %q; want the token in sessionStorage only", got)
	}

	// Drain with the right token: the badge turns down over the stream, then back up.
	start := time.Now()
	wait("drain 127.0.1.1", 10*time.Second,
		chromedp.SendKeys(chromedp.CSS(`#token`), token),
		chromedp.Click(chromedp.CSS(`#token-form button[type="submit"]`)),
		chromedp.Click(chromedp.CSS(ep1+` button[data-action="drain"]`)),
		css(`#detail [data-endpoint="127.0.1.1"][data-state="down"]`),
		css(ep1+` .ep-override`),
	)
	t.Logf("drained 127.0.1.1 shown down %v after the click", time.Since(start).Round(time.Millisecond))
	if got := eval(`document.querySelector('` + ep1 + ` .error').hidden ? "" : document.querySelector('` + ep1 + ` .error').textContent`); got != "" {
		t.Errorf("error after a successful drain: %q", got)
	}
	if got := eval(`sessionStorage.getItem("meridian.api-token")`); got != token {
		t.Errorf("sessionStorage token %q, want the one entered", got)
	}
	b.screenshot("dashboard-service.png")

	wait("undrain 127.0.1.1", 10*time.Second,
		chromedp.Click(chromedp.CSS(ep1+` button[data-action="undrain"]`)),
		css(`#detail [data-endpoint="127.0.1.1"][data-state="up"]`),
	)
	if eval(`String(window.meridianTestMark)`) != "set" {
		t.Error("the page was reloaded; want live updates without a reload")
	}

	// Back to the overview by its link.
	wait("back to the overview", 10*time.Second,
		chromedp.Click(chromedp.CSS(`#detail .back a`)),
		css(`#svc-body [data-endpoint="127.0.1.1"][data-state="up"]`),
	)
	wait("phone width", 10*time.Second,
		chromedp.Navigate(base+"#service/www.example.test."),
		chromedp.EmulateViewport(390, 844),
		css(ep1+` tr[data-prober="e2e-dashboard"]`),
	)
	if got := eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`); got != "true" {
		t.Error("at a phone's width the service page scrolls sideways; want it to fit")
	}
	b.screenshot("dashboard-service-phone.png")
}
