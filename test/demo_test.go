package test

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDemo is the README's first minute: `meridian serve` on the embedded config starts demo
// backends for three regions; on the dashboard the user stops us-east's backends, sees the
// region go down and lb.example.test move to eu-central, starts them again and sees it come back.
// The local proxy on 127.0.0.1:8080 answers from us-east's demo backends.
func TestDemo(t *testing.T) {
	for _, a := range []string{"127.0.0.1:5353", "127.0.0.1:8053", "127.0.0.1:8080", "127.0.1.1:18080"} {
		if portInUse(a) {
			t.Fatalf("%s is in use on this machine; the embedded demo needs it (stop what holds it)", a)
		}
	}
	ctx := newBrowser(t)
	started := time.Now()
	n := startNode(t, t.TempDir(), ports{DNS: 5353, HTTP: 8053}, "serve")
	for _, want := range []string{"dig @127.0.0.1 -p 5353 lb.example.test", "http://127.0.0.1:8053/", "curl -i http://127.0.0.1:8080/"} {
		if !strings.Contains(n.stdout.String(), want) {
			t.Errorf("the demo's greeting does not say %q:\n%s", want, n.stdout.String())
		}
	}
	lb := func() []string {
		got := addrs(parseDig(dig(t, "127.0.0.1", 5353, "lb.example.test", "A")).answer)
		slices.Sort(got)
		return got
	}
	waitLB := func(what string, want []string, limit time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			got := lb()
			if slices.Equal(got, want) {
				return time.Since(start)
			}
			if time.Since(start) > limit {
				t.Fatalf("%s: lb.example.test answers %v after %v, want %v", what, got, limit, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	usEast, euCentral := []string{"127.0.1.1", "127.0.1.2"}, []string{"127.0.2.1", "127.0.2.2"}
	// The failover bound of lb.example.test: interval 1 s × fall 2 + timeout 0.5 s + TTL 10 s.
	const bound = 12500 * time.Millisecond

	b := tab{t, ctx}
	b.wait("open the dashboard with us-east up and its stop button", 20*time.Second,
		chromedp.Navigate("http://127.0.0.1:8053/"),
		chromedp.WaitVisible(chromedp.CSS(`#demo-note`)),
		chromedp.WaitVisible(chromedp.CSS(`#regions li[data-region="us-east"][data-state="up"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#regions li[data-region="eu-central"][data-state="up"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-demo-region="us-east"][data-demo-action="stop"]`)),
	)
	waitLB("us-east up", usEast, 5*time.Second)
	if code, body := get(t, "http://127.0.0.1:8080/"); code != 200 || !strings.Contains(body, "us-east demo backend") {
		t.Errorf("the demo proxy: %d %q, want 200 from a us-east demo backend", code, body)
	}

	b.wait("the local proxy's us-east backends shown up", 5*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`#proxy tr[data-proxy-backend="us-east/127.0.1.1"][data-state="up"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#proxy tr[data-proxy-backend="us-east/127.0.1.2"][data-state="up"]`)),
	)

	clicked := time.Now()
	shown := b.wait("us-east shown down after its backends were stopped", bound,
		chromedp.Click(chromedp.CSS(`button[data-demo-region="us-east"][data-demo-action="stop"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#regions li[data-region="us-east"][data-state="down"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#map [data-region="us-east"][data-state="down"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-demo-region="us-east"][data-demo-action="start"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#proxy tr[data-proxy-backend="us-east/127.0.1.1"][data-state="down"]`)),
	)
	waitLB("us-east stopped", euCentral, bound)
	moved := time.Since(clicked)
	b.screenshot("demo-us-east-stopped.png")
	fromStart := time.Since(started)
	t.Logf("demo: us-east shown down %v after the click, lb.example.test on eu-central %v after it, %v after serve started",
		shown.Round(time.Millisecond), moved.Round(time.Millisecond), fromStart.Round(time.Second))
	if fromStart > time.Minute {
		t.Errorf("the failover was visible %v after starting the demo, want within a minute", fromStart)
	}

	b.wait("us-east up again after starting its backends", bound,
		chromedp.Click(chromedp.CSS(`button[data-demo-region="us-east"][data-demo-action="start"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#regions li[data-region="us-east"][data-state="up"]`)),
	)
	waitLB("us-east started again", usEast, bound)
	if code, _ := get(t, "http://127.0.0.1:8080/"); code != 200 {
		t.Errorf("the demo proxy after us-east came back: %d, want 200", code)
	}
}

// portInUse reports whether something accepts TCP connections on addr.
func portInUse(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
