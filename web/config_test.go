package web

import (
	"errors"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns"
)

// newConfigAPI serves testdata/services.toml, made deterministic, with the API tests' store,
// and reload as the API's Reload.
func newConfigAPI(t testing.TB, tok string, reload func(bool) error) (http.Handler, *config.Config) {
	t.Helper()
	_, st := newAPI(t, "")
	cfg, err := config.Load("testdata/services.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.LoadedAt = now
	cfg.Server.DataDir = "/var/lib/meridian"
	cfg.Server.TokenFile = "/etc/meridian/token"
	cfg.Server.PeerSecretFile = "/etc/meridian/peer-secret"
	for i := range cfg.Zones {
		cfg.Zones[i].SOA.Serial = 2025030101
	}
	h, err := dns.NewHandler(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), dns.WithHealth(storeHealth(st)))
	if err != nil {
		t.Fatal(err)
	}
	s := New(prometheus.NewRegistry(), func() error { return nil }, &API{Health: st, Services: h, Token: tok,
		Config: func() *config.Config { return cfg }, Reload: reload}, slog.New(slog.DiscardHandler))
	return s.srv.Handler, cfg
}

func TestConfigAPI(t *testing.T) {
	h, _ := newConfigAPI(t, token, nil)
	code, body := do(t, h, "GET", "/api/v1/config", "", "")
	if code != 200 {
		t.Fatalf("GET /api/v1/config = %d %s", code, body)
	}
	golden(t, "config", body)
	for _, want := range []string{`"source": "testdata/services.toml"`, `"loaded_at": "2025-03-01T12:00:00Z"`, `"token_file": "/etc/meridian/token"`} {
		if !strings.Contains(body, want) {
			t.Errorf("config lacks %s", want)
		}
	}
	if code, _ := do(t, h, "POST", "/api/v1/config", token, ""); code != 405 {
		t.Errorf("POST /api/v1/config = %d, want 405", code)
	}
}

func TestRedact(t *testing.T) {
	type monitor struct {
		Headers map[string]string
	}
	type server struct {
		Token          string
		PeerSecret     []byte
		AdminPassword  string
		EmptySecret    string
		TokenFile      string
		PeerSecretFile string
		Monitors       []monitor
		Interval       time.Duration
		Node           string
	}
	got := redact(reflect.ValueOf(server{
		Token: "t0ps3cret", PeerSecret: []byte("k3y"), AdminPassword: "hunter2", TokenFile: "/etc/token",
		PeerSecretFile: "/etc/peer", Interval: 1500 * time.Millisecond, Node: "n1",
		Monitors: []monitor{{Headers: map[string]string{"Authorization": "Bearer x", "X-Api-Key": "k", "Accept": "text/plain"}}},
	}), "")
	want := map[string]any{
		"token": Redacted, "peer_secret": Redacted, "admin_password": Redacted, "empty_secret": "",
		"token_file": "/etc/token", "peer_secret_file": "/etc/peer", "interval": "1.5s", "node": "n1",
		"monitors": []any{map[string]any{"headers": map[string]any{"Authorization": Redacted, "X-Api-Key": Redacted, "Accept": "text/plain"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("redact:\n got %#v\nwant %#v", got, want)
	}
	for in, want := range map[string]string{"TokenFile": "token_file", "EDNSBuffer": "edns_buffer", "UDPSockets": "udp_sockets",
		"LoadedAt": "loaded_at", "DNS": "dns", "HTTP": "http", "QName": "q_name", "MinHealthy": "min_healthy"} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProbersAPI(t *testing.T) {
	h, _ := newAPI(t, token)
	code, body := do(t, h, "GET", "/api/v1/probers", "", "")
	if code != 200 {
		t.Fatalf("GET /api/v1/probers = %d %s", code, body)
	}
	golden(t, "probers", body)
}

func TestAPIReload(t *testing.T) {
	var calls int
	var fail error
	var allowed []bool
	h, cfg := newConfigAPI(t, token, func(allow bool) error { calls++; allowed = append(allowed, allow); return fail })
	code, body := do(t, h, "POST", "/api/v1/reload", "", "")
	if code != 401 || calls != 0 {
		t.Errorf("POST without a token = %d %s (%d reloads), want 401 and none", code, body, calls)
	}
	code, body = do(t, h, "POST", "/api/v1/reload", "wrong", "")
	if code != 401 || calls != 0 {
		t.Errorf("POST with a wrong token = %d %s (%d reloads), want 401 and none", code, body, calls)
	}
	code, body = do(t, h, "POST", "/api/v1/reload", token, "")
	if code != 200 || calls != 1 || !strings.Contains(body, `"loaded_at": "`+cfg.LoadedAt.Format(time.RFC3339)+`"`) {
		t.Errorf("POST = %d %s (%d reloads), want 200 with loaded_at", code, body, calls)
	}
	fail = config.Problems{{File: "m.toml", Line: 3, Col: 1, Msg: `unknown key "edns_bufer"`}}
	code, body = do(t, h, "POST", "/api/v1/reload", token, "")
	if code != 422 || calls != 2 || !strings.Contains(body, `unknown key \"edns_bufer\"`) {
		t.Errorf("POST with a bad config = %d %s, want 422 with the problems", code, body)
	}
	fail = errors.New("open m.toml: no such file or directory")
	if code, body = do(t, h, "POST", "/api/v1/reload", token, ""); code != 422 || !strings.Contains(body, "no such file") {
		t.Errorf("POST with a missing config = %d %s, want 422", code, body)
	}
	if code, _ = do(t, h, "GET", "/api/v1/reload", token, ""); code != 405 {
		t.Errorf("GET /api/v1/reload = %d, want 405", code)
	}
	fail = &config.ZoneLossError{Dropped: []string{"example.test."}, Running: 1}
	if code, body = do(t, h, "POST", "/api/v1/reload", token, ""); code != 409 || !strings.Contains(body, "allow_zone_loss") {
		t.Errorf("POST of a config that drops every zone = %d %s, want 409 naming allow_zone_loss", code, body)
	}
	fail = nil
	if code, body = do(t, h, "POST", "/api/v1/reload?allow_zone_loss=true", token, ""); code != 200 || allowed[len(allowed)-1] != true {
		t.Errorf("POST ?allow_zone_loss=true = %d %s (allowed %v), want 200 with the loss allowed", code, body, allowed)
	}
	if code, body = do(t, h, "POST", "/api/v1/reload?allow_zone_loss=maybe", token, ""); code != 400 || calls != 5 {
		t.Errorf("POST ?allow_zone_loss=maybe = %d %s (%d reloads), want 400 and no reload", code, body, calls)
	}
	if allowed[0] || allowed[1] {
		t.Errorf("reloads without the parameter allowed zone loss: %v", allowed)
	}
	h, _ = newConfigAPI(t, "", func(bool) error { calls++; return nil })
	if code, body = do(t, h, "POST", "/api/v1/reload", token, ""); code != 403 || calls != 5 {
		t.Errorf("POST without a token_file = %d %s (%d reloads), want 403 and none", code, body, calls)
	}
}

func TestEventsByService(t *testing.T) {
	h, _ := newConfigAPI(t, token, nil)
	_, all := do(t, h, "GET", "/api/v1/events", "", "")
	_, v6 := do(t, h, "GET", "/api/v1/events?target=a/2001:db8::1", "", "")
	_, empty := do(t, h, "GET", "/api/v1/events?target=b/192.0.2.7", "", "")
	for _, tc := range []struct {
		query string
		code  int
		want  string
	}{
		{"service=www.example.test", 200, all}, // pools a and b: every event
		{"service=WWW.example.test.", 200, all},
		{"service=www.example.test&target=a/2001:db8::1", 200, v6},
		{"service=example.test", 200, empty}, // pool b only: none
		{"service=example.test&target=a/127.0.0.1", 200, empty},
		{"service=nope.example.test", 404, ""},
	} {
		code, body := do(t, h, "GET", "/api/v1/events?"+tc.query, "", "")
		if code != tc.code || tc.want != "" && body != tc.want {
			t.Errorf("events?%s = %d %s, want %d %s", tc.query, code, body, tc.code, tc.want)
		}
	}
	if strings.Count(all, `"seq"`) < 2 || strings.Count(empty, `"seq"`) != 0 {
		t.Fatalf("the test store has too few events to tell: %s", all)
	}
	_, page := do(t, h, "GET", "/api/v1/events?service=www.example.test&after=1&limit=1", "", "")
	if !strings.Contains(page, `"seq": 2`) || strings.Count(page, `"seq"`) != 1 {
		t.Errorf("a service's second page of one: %s", page)
	}
}

// TestRedactWebhookURL: the config API shows a webhook's host, not its path (a Slack
// incoming webhook's path is its secret).
func TestRedactWebhookURL(t *testing.T) {
	got := redact(reflect.ValueOf(config.Notify{Name: "slack", URL: "https://hooks.slack.com/services/T0/B0/s3cret"}), "")
	if u := got.(map[string]any)["url"]; u != "https://hooks.slack.com/<redacted>" {
		t.Errorf("url = %v, want https://hooks.slack.com/<redacted>", u)
	}
}
