package notify

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-gslb/meridian/store"
)

// TestSignedNotifications: endpoint, pool and service transitions arrive signed, with the
// documented fields, once each; a tampered body or another secret does not verify.
func TestSignedNotifications(t *testing.T) {
	r := newReceiver(t, nil)
	f := newFixture(t, hookTOML("ops", r.URL+"/hook", `secret_file = "hook.secret"`), func(dir string) {
		writeSecret(t, dir, "hook.secret", "s3cret")
	})
	secret := []byte("s3cret")
	type want struct{ typ, subject, from, to string }
	subject := func(m map[string]any) string {
		for _, k := range []string{"target", "service", "pool"} {
			if s, ok := m[k].(string); ok && s != "" {
				return s
			}
		}
		return ""
	}
	check := func(reqs []request, wants []want) {
		t.Helper()
		var got []want
		for _, rq := range reqs {
			if err := Verify(secret, rq.header, rq.body, time.Now(), time.Minute); err != nil {
				t.Errorf("signature of %s: %v", rq.body, err)
			}
			if Verify([]byte("other"), rq.header, rq.body, time.Now(), time.Minute) == nil {
				t.Error("a signature verifies with another secret")
			}
			if Verify(secret, rq.header, append([]byte(" "), rq.body...), time.Now(), time.Minute) == nil {
				t.Error("a tampered body verifies")
			}
			m := rq.note(t)
			if m["node"] != "n1" || m["id"] == "" || m["id"] != rq.header.Get(HeaderDelivery) || m["type"] != rq.header.Get(HeaderEvent) {
				t.Errorf("notification %s: want node n1 and an id and type as in the headers %v", rq.body, rq.header)
			}
			got = append(got, want{m["type"].(string), subject(m), m["from"].(string), m["to"].(string)})
		}
		slices.SortFunc(got, func(a, b want) int { return strings.Compare(a.typ+a.subject, b.typ+b.subject) })
		if !slices.Equal(got, wants) {
			t.Errorf("notifications = %v, want %v", got, wants)
		}
	}

	f.record(a1, false)
	f.record(a2, false)
	reqs := r.wait(t, 3)
	check(reqs, []want{{"endpoint", a1, "up", "down"}, {"endpoint", a2, "up", "down"}, {"pool", "a", "available", "unavailable"}})
	for _, rq := range reqs {
		m := rq.note(t)
		switch m["type"] {
		case "pool":
			if c, _ := json.Marshal(m["counts"]); string(c) != `{"enabled":2,"min_healthy":1,"serving":0}` ||
				!strings.Contains(m["cause"].(string), a2+" up → down") || !slices.Equal(m["services"].([]any), []any{"www.example.test."}) {
				t.Errorf("pool notification %s: want counts 0 of 2 (min 1), the cause naming %s, the service", rq.body, a2)
			}
		case "endpoint":
			if m["pool"] != "a" || m["endpoint"] == "" || m["seq"].(float64) == 0 || m["cause"] == "" {
				t.Errorf("endpoint notification %s: want its pool, address, seq and cause", rq.body)
			}
		}
	}

	f.record(b1, false)
	reqs = r.wait(t, 6)[3:]
	check(reqs, []want{{"endpoint", b1, "up", "down"}, {"pool", "b", "available", "unavailable"}, {"service", "www.example.test.", "available", "all_pools_down"}})
	for _, rq := range reqs {
		if m := rq.note(t); m["type"] == "service" {
			if c, _ := json.Marshal(m["counts"]); string(c) != `{"on_all_down":"all","pools":2,"pools_available":0}` || m["cause"] != "pool b unavailable" {
				t.Errorf("service notification %s: want 0 of 2 pools, on_all_down all, cause pool b", rq.body)
			}
		}
	}

	f.record(a1, true)
	check(r.wait(t, 9)[6:], []want{{"endpoint", a1, "down", "up"}, {"pool", "a", "unavailable", "available"}, {"service", "www.example.test.", "all_pools_down", "available"}})
	waitMetric(t, func() float64 { return testutil.ToFloat64(f.n.m.deliveries.WithLabelValues("ops", resultOK)) }, 9)
	if n := r.count(); n != 9 {
		t.Errorf("receiver got %d requests, want 9 (one per transition)", n)
	}
	if problems, err := testutil.CollectAndLint(f.n.m.deliveries); err != nil || len(problems) > 0 {
		t.Errorf("metrics lint: %v %v", problems, err)
	}
	if problems, err := testutil.GatherAndLint(f.reg); err != nil || len(problems) > 0 {
		t.Errorf("metrics lint: %v %v", problems, err)
	}
}

// TestRetries: 5xx and timeouts are retried with a growing, jittered backoff and the same
// delivery ID, up to retries; other answers are not retried.
func TestRetries(t *testing.T) {
	tests := []struct {
		name     string
		script   []int
		retries  int
		attempts int
		result   string
	}{
		{"500s then success", []int{500, 503}, 3, 3, resultOK},
		{"429 then success", []int{429}, 3, 2, resultOK},
		{"gives up after retries", []int{500, 500, 500, 500}, 2, 3, resultFailed},
		{"400 is not retried", []int{400}, 3, 1, resultRejected},
		{"a redirect is not followed", []int{302}, 3, 1, resultRejected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t, nil, tc.script...)
			f := newFixture(t, hookTOML("h", r.URL, `events = ["endpoint"]
backoff = "40ms"
max_backoff = "1s"
secret_file = "s"
retries = `+strconv.Itoa(tc.retries)), func(dir string) { writeSecret(t, dir, "s", "k") })
			f.record(a1, false)
			reqs := r.wait(t, tc.attempts)
			waitMetric(t, func() float64 { return testutil.ToFloat64(f.n.m.deliveries.WithLabelValues("h", tc.result)) }, 1)
			time.Sleep(100 * time.Millisecond) // a retry too many would come within its 80ms backoff
			if n := r.count(); n != tc.attempts {
				t.Errorf("%d attempts, want %d", n, tc.attempts)
			}
			for i, rq := range reqs {
				if rq.header.Get(HeaderDelivery) != reqs[0].header.Get(HeaderDelivery) {
					t.Errorf("attempt %d has delivery %q, want the first's %q", i+1, rq.header.Get(HeaderDelivery), reqs[0].header.Get(HeaderDelivery))
				}
				if err := Verify([]byte("k"), rq.header, rq.body, time.Now(), time.Minute); err != nil {
					t.Errorf("attempt %d: %v", i+1, err)
				}
				if i == 0 {
					continue
				}
				// Retry i waits 40ms × 2^(i-1), less up to half of it for jitter.
				if gap, least := rq.at.Sub(reqs[i-1].at), 20*time.Millisecond<<(i-1); gap < least {
					t.Errorf("retry %d came %v after the attempt before, want at least %v", i, gap, least)
				}
			}
		})
	}
}

// TestFullQueueDrops: a receiver that hangs fills its webhook's queue; what does not fit is
// dropped and counted, while the store commits as fast as without notifications and another
// webhook still gets every notification.
func TestFullQueueDrops(t *testing.T) {
	hang := make(chan struct{})
	stuck := newReceiver(t, hang)
	t.Cleanup(func() { close(hang) }) // before the receiver closes: it waits for its handlers
	fine := newReceiver(t, nil)
	const queue, n = 4, 200
	f := newFixture(t, hookTOML("stuck", stuck.URL, `queue = 4
timeout = "1m"
retries = 0`)+hookTOML("fine", fine.URL, `queue = 1000`), nil)

	// The same flips on a store nobody notifies from, for the baseline.
	plain, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	plain.SetRules(map[string]store.Rule{a1: {Interval: time.Hour}})
	recordOn(t, plain, a1, true, &f.at) // unknown → up first, as in the fixture
	// Interleaved, so that whatever else the machine runs weighs on both alike.
	var took, base, slowest time.Duration
	timed := func(s *store.Store, up bool) time.Duration {
		start := time.Now()
		recordOn(t, s, a1, up, &f.at)
		return time.Since(start)
	}
	for i := range n {
		up := i%2 == 1 // down, up, down, …: every report a transition
		base += timed(plain, up)
		d := timed(f.st, up)
		took, slowest = took+d, max(slowest, d)
	}
	t.Logf("%d transitions committed in %v with a hung webhook (slowest %v), %v on a store without notifications", n, took, slowest, base)
	if took > 2*base+500*time.Millisecond || slowest > time.Second {
		t.Errorf("committing %d transitions took %v (slowest %v) with notifications, %v without: the notifier slows the committer", n, took, slowest, base)
	}
	fine.wait(t, n) // every endpoint transition, the pool never changes
	dropped := waitMetric(t, func() float64 { return testutil.ToFloat64(f.n.m.dropped.WithLabelValues("stuck")) }, n-queue-1)
	if dropped > n-queue {
		t.Errorf("dropped %v of %d, want %d or %d: the queue holds %d and one is in flight", dropped, n, n-queue-1, n-queue, queue)
	}
	if got := testutil.ToFloat64(f.n.m.dropped.WithLabelValues("fine")); got != 0 {
		t.Errorf("webhook fine dropped %v, want 0", got)
	}
	if got := stuck.count(); got != 1 {
		t.Errorf("the hung receiver got %d requests, want 1 (sent one at a time)", got)
	}
}

// TestSlackFormat: format = "slack" sends {"text": …} and nothing else.
func TestSlackFormat(t *testing.T) {
	r := newReceiver(t, nil)
	f := newFixture(t, hookTOML("slack", r.URL, `format = "slack"`), nil)
	f.record(a1, false)
	f.record(a2, false)
	r.wait(t, 3) // so that the service's cause is pool b alone
	f.record(b1, false)
	var texts []string
	for _, rq := range r.wait(t, 6) {
		var m map[string]any
		if err := json.Unmarshal(rq.body, &m); err != nil || len(m) != 1 {
			t.Fatalf("slack body %s: want one key, text (%v)", rq.body, err)
		}
		texts = append(texts, m["text"].(string))
		if ct := rq.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q, want application/json", ct)
		}
		if rq.header.Get(HeaderSignature) != "" {
			t.Error("signed without a secret_file")
		}
	}
	all := strings.Join(texts, "\n")
	for _, w := range []string{
		":red_circle: endpoint *a/127.0.1.1* up → down on n1: ",
		":red_circle: pool *a* unavailable: 0 of 2 endpoints serving (min_healthy 1) on n1: ",
		"a/127.0.1.2 up → down (quorum: 0 of 1 fresh reports up, 1 down (need 1))",
		":rotating_light: service *www.example.test.*: every pool is down (0 of 2 pools available), answering by on_all_down = all on n1: pool b unavailable",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("slack texts lack %q:\n%s", w, all)
		}
	}
}

// TestReload: a commit swaps the webhooks (a removed one gets nothing more and loses its
// series) and the pools (a pool whose min_healthy now fails it is notified).
func TestReload(t *testing.T) {
	one, two := newReceiver(t, nil), newReceiver(t, nil)
	f := newFixture(t, hookTOML("one", one.URL, ""), nil)
	f.record(a1, false)
	one.wait(t, 1)

	cfg := parse(t, f.dir, strings.Replace(testTOML(hookTOML("two", two.URL, `events = ["pool", "service"]`)),
		"[pools.a]\n", "[pools.a]\nmin_healthy = 2\n", 1))
	p, err := f.n.Prepare(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.Commit()
	reqs := two.wait(t, 1)
	if m := reqs[0].note(t); m["type"] != "pool" || m["pool"] != "a" || m["to"] != "unavailable" || m["cause"] != "config reloaded" {
		t.Errorf("after the reload: %s, want pool a unavailable, cause config reloaded", reqs[0].body)
	}
	f.record(b1, false) // endpoint: not wanted by two; pool b and the service are
	reqs = two.wait(t, 3)
	time.Sleep(50 * time.Millisecond)
	if n := two.count(); n != 3 {
		t.Errorf("webhook two got %d notifications, want 3 (no endpoint ones)", n)
	}
	if n := one.count(); n != 1 {
		t.Errorf("the removed webhook got %d notifications, want the 1 before the reload", n)
	}
	if n := testutil.CollectAndCount(f.n.m.dropped); n != 1 {
		t.Errorf("%d meridian_notify_dropped_total series, want 1 (two's)", n)
	}
}

// TestBackoff: exponential, jittered by at most half, capped, and a longer Retry-After
// honoured within the cap.
func TestBackoff(t *testing.T) {
	set := &settings{}
	set.Backoff, set.MaxBackoff = time.Second, 30*time.Second
	for attempt := range 40 {
		full := min(time.Second<<min(attempt, 30), 30*time.Second)
		for range 20 {
			if d := backoff(set, attempt, 0); d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, full/2, full)
			}
		}
	}
	if d := backoff(set, 0, 10*time.Second); d != 10*time.Second {
		t.Errorf("backoff with Retry-After 10s = %v, want 10s", d)
	}
	if d := backoff(set, 0, time.Hour); d != 30*time.Second {
		t.Errorf("backoff with Retry-After 1h = %v, want the 30s cap", d)
	}
}

// TestVerify: Verify refuses what a receiver must refuse.
func TestVerify(t *testing.T) {
	secret, body, now := []byte("k"), []byte(`{"id":"x"}`), time.Unix(1_700_000_000, 0)
	header := func(ts int64, sig string) map[string][]string {
		return map[string][]string{HeaderTimestamp: {strconv.FormatInt(ts, 10)}, HeaderSignature: {sig}}
	}
	good := "sha256=" + Sign(secret, now.Unix(), body)
	tests := []struct {
		name string
		h    map[string][]string
		ok   bool
	}{
		{"valid", header(now.Unix(), good), true},
		{"within the skew", header(now.Unix()-240, "sha256="+Sign(secret, now.Unix()-240, body)), true},
		{"replayed later", header(now.Unix()-600, "sha256="+Sign(secret, now.Unix()-600, body)), false},
		{"timestamp changed", header(now.Unix()+1, good), false},
		{"no prefix", header(now.Unix(), Sign(secret, now.Unix(), body)), false},
		{"no headers", map[string][]string{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := Verify(secret, tc.h, body, now, 5*time.Minute); (err == nil) != tc.ok {
				t.Errorf("Verify = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
