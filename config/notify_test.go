package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNotifyDefaults(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hook.secret"), []byte("k\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(filepath.Join(dir, "meridian.toml"), []byte(`
[[notify]]
url = "https://hooks.example.com/services/T0/B0/XYZ"

[[notify]]
name = "pager"
url = "http://127.0.0.1:9000/hook"
secret_file = "hook.secret"
format = "slack"
events = ["pool", "service"]
timeout = "2s"
retries = 0
backoff = "45s"
min_interval = "1s"
queue = 10
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Notify{
		{Name: "hooks.example.com", URL: "https://hooks.example.com/services/T0/B0/XYZ", Format: "json", Events: NotifyKinds,
			Timeout: 5 * time.Second, Retries: 3, Backoff: time.Second, MaxBackoff: 30 * time.Second, Queue: 256, Line: 2},
		{Name: "pager", URL: "http://127.0.0.1:9000/hook", SecretFile: filepath.Join(dir, "hook.secret"), Format: "slack",
			Events: []string{"pool", "service"}, Timeout: 2 * time.Second, Backoff: 45 * time.Second, MaxBackoff: 45 * time.Second,
			MinInterval: time.Second, Queue: 10, Line: 5},
	}
	if !reflect.DeepEqual(cfg.Notify, want) {
		t.Errorf("notify =\n%+v\nwant\n%+v", cfg.Notify, want)
	}
	if got, _ := cfg.Notify[0].URL.MarshalText(); string(got) != "https://hooks.example.com/<redacted>" {
		t.Errorf("URL text = %s, want the path redacted", got)
	}
}

func TestNotifyProblems(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty.secret"), []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Parse(filepath.Join(dir, "meridian.toml"), []byte(`
[[notify]]
url = "ftp://example.com/x"
[[notify]]
name = "a"
url = "https://a.example/"
events = ["pools", "endpoint", "endpoint"]
format = "xml"
retries = 11
backoff = "10s"
max_backoff = "5s"
secret_file = "empty.secret"
timout = "1s"
[[notify]]
name = "a"
url = "https://b.example/"
secret_file = "missing"
events = []
[[notify]]
`))
	if err == nil {
		t.Fatal("no problems")
	}
	got := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
	for _, w := range []string{
		`meridian.toml:3:7: notify[0].url: ftp://example.com/<redacted> is not an http:// or https:// URL`,
		`meridian.toml:7:11: notify[1].events[0]: "pools" is not one of endpoint, pool, service (did you mean "pool"?)`,
		`meridian.toml:7:32: notify[1].events[2]: "endpoint" is listed twice`,
		`meridian.toml:8:10: notify[1].format: "xml" is not one of json, slack`,
		`meridian.toml:9:11: notify[1].retries: 11 is out of range 0..10`,
		`meridian.toml:11:15: notify[1].max_backoff: 5s is below backoff (10s)`,
		`meridian.toml:12:15: notify[1].secret_file: empty.secret is empty (a random key: openssl rand -hex 32)`,
		`meridian.toml:13:1: unknown key "timout" (did you mean "timeout"?) in notify[1]`,
		`meridian.toml:15:8: notify[2].name: "a" names the webhook on line 4 too: give each [[notify]] its own name`,
		`meridian.toml:17:15: notify[2].secret_file: cannot read missing: no such file or directory`,
		`meridian.toml:18:1: notify[2].events: lists no kind: omit the key to send every kind (endpoint, pool, service)`,
		`meridian.toml:19:1: notify[3].url: a webhook URL is needed`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("problems lack\n%s\ngot:\n%s", w, got)
		}
	}
}
