package test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hookRequest is one notification the test's webhook received, its signature checked.
type hookRequest struct {
	note map[string]any
	at   time.Time
	err  error // the signature does not verify
}

func (h hookRequest) String() string {
	what := h.note["pool"]
	if h.note["type"] == "endpoint" {
		what = h.note["target"]
	}
	return fmt.Sprintf("%v %v %v→%v", h.note["type"], what, h.note["from"], h.note["to"])
}

// verifyHook checks a webhook request as the README tells a receiver to: the HMAC-SHA256 of
// timestamp "." body, and a timestamp within 5 minutes.
func verifyHook(secret string, r *http.Request, body []byte) error {
	ts := r.Header.Get("X-Meridian-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return fmt.Errorf("timestamp %q not within 5 minutes", ts)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(r.Header.Get("X-Meridian-Signature")), []byte(want)) {
		return fmt.Errorf("signature %q, want %q", r.Header.Get("X-Meridian-Signature"), want)
	}
	return nil
}

// notifyVars fill testdata/notify.toml.tmpl.
type notifyVars struct {
	ports
	Backends     []string
	Hook, Events string
}

// TestWebhookNotify: killing a backend sends the webhook a signed endpoint-down and pool-down
// notification within the detection time; restoring it sends the ups; after a SIGHUP that
// keeps only pool events, only those come.
func TestWebhookNotify(t *testing.T) {
	const secret = "e2e webhook secret"
	got := make(chan hookRequest, 100)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := hookRequest{at: time.Now(), err: verifyHook(secret, r, body)}
		if err := json.Unmarshal(body, &h.note); err != nil {
			h.err = fmt.Errorf("body %q: %v", body, err)
		}
		got <- h
	}))
	defer hook.Close()

	dir := t.TempDir()
	vars := notifyVars{ports: freePorts(t), Hook: hook.URL + "/meridian", Events: `"endpoint", "pool", "service"`}
	var bs []*backend
	for range 3 {
		b := startBackend(t, "127.0.0.1:0")
		bs = append(bs, b)
		vars.Backends = append(vars.Backends, b.addr)
	}
	if err := os.WriteFile(filepath.Join(dir, "hook.secret"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, dir, "notify.toml.tmpl", vars)
	n := startNode(t, dir, vars.ports, "serve", "-c", path)
	// Wait for the first verdicts (unknown → up: not notified) before killing anything.
	waitMetrics(t, vars.HTTP, `meridian_health_target_up{target="b/127.0.2.1"} 1`)

	// receive takes the next want notifications, failing after within.
	receive := func(want int, within time.Duration) []hookRequest {
		t.Helper()
		var out []hookRequest
		deadline := time.After(within)
		for len(out) < want {
			select {
			case h := <-got:
				if h.err != nil {
					t.Errorf("notification %v: %v", h, h.err)
				}
				out = append(out, h)
			case <-deadline:
				t.Fatalf("%d notifications within %v, want %d: %v", len(out), within, want, out)
			}
		}
		return out
	}
	find := func(hs []hookRequest, typ, to string) hookRequest {
		t.Helper()
		for _, h := range hs {
			if h.note["type"] == typ && h.note["to"] == to {
				return h
			}
		}
		t.Fatalf("no %s → %s notification among %v", typ, to, hs)
		return hookRequest{}
	}
	// Detection: interval 0.2s × fall 2 + timeout 0.1s = 0.5s; allow a busy machine 2s more.
	const within = 2500 * time.Millisecond
	killed := time.Now()
	bs[2].kill()
	hs := receive(2, within)
	down, poolDown := find(hs, "endpoint", "down"), find(hs, "pool", "unavailable")
	t.Logf("endpoint-down notified %v, pool-down %v after the backend died", down.at.Sub(killed).Round(time.Millisecond), poolDown.at.Sub(killed).Round(time.Millisecond))
	if down.note["target"] != "b/127.0.2.1" || down.note["pool"] != "b" || down.note["from"] != "up" || down.note["node"] != "e2e-notify" || down.note["cause"] == "" {
		t.Errorf("endpoint notification %v, want b/127.0.2.1 of pool b up → down on e2e-notify with a cause", down.note)
	}
	if c, _ := json.Marshal(poolDown.note["counts"]); poolDown.note["pool"] != "b" || string(c) != `{"enabled":1,"min_healthy":1,"serving":0}` ||
		!strings.Contains(poolDown.note["cause"].(string), "b/127.0.2.1 up → down") {
		t.Errorf("pool notification %v, want pool b with 0 of 1 serving, caused by b/127.0.2.1", poolDown.note)
	}

	restored := time.Now()
	bs[2] = startBackend(t, bs[2].addr)
	hs = receive(2, within)
	up, poolUp := find(hs, "endpoint", "up"), find(hs, "pool", "available")
	t.Logf("endpoint-up notified %v, pool-up %v after the backend came back", up.at.Sub(restored).Round(time.Millisecond), poolUp.at.Sub(restored).Round(time.Millisecond))

	// Reload with pool events only: killing pool a's backends sends pool a unavailable, and no
	// endpoint notification (nor a service one: b is up).
	vars.Events = `"pool"`
	writeConfig(t, dir, "notify.toml.tmpl", vars)
	n.signal(syscall.SIGHUP)
	waitLog(t, n, "config reloaded", 10*time.Second)
	bs[0].kill()
	bs[1].kill()
	hs = receive(1, within)
	if h := hs[0]; h.note["type"] != "pool" || h.note["pool"] != "a" || h.note["to"] != "unavailable" {
		t.Errorf("after the reload: %v, want pool a unavailable alone", h)
	}
	select {
	case h := <-got:
		t.Errorf("after the reload to pool events only, also got %v", h)
	case <-time.After(time.Second):
	}
	waitMetrics(t, vars.HTTP, `meridian_notify_deliveries_total{notify="e2e",result="ok"} 5`, `meridian_notify_dropped_total{notify="e2e"} 0`)
}

// waitMetrics waits until /metrics has every line, failing after 10s.
func waitMetrics(t *testing.T, port int, lines ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, m := get(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		missing := ""
		for _, l := range lines {
			if !strings.Contains(m, l) {
				missing = l
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics has no %q after 10s:\n%s", missing, grepLines(m, "meridian_notify"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
