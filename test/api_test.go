package test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAPIReload changes the config file and reloads it with POST /api/v1/reload: a good config
// serves at once, a broken one is answered 422 with its problems and the old one keeps serving.
func TestAPIReload(t *testing.T) {
	const tok = "e2e-t0ken"
	dir := t.TempDir()
	p := freePorts(t)
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// write renders node.toml.tmpl with a token_file and extra appended.
	write := func(www, extra string) string {
		path := writeConfig(t, dir, "node.toml.tmpl", nodeVars{ports: p, WWW: www, Version: "v1"})
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.Replace(string(b), "[server]\n", "[server]\ntoken_file = \"token\"\n", 1) + extra
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	path := write("192.0.2.10", "")
	startNode(t, dir, p, "serve", "-c", path)
	base := fmt.Sprintf("http://127.0.0.1:%d/api/v1/", p.HTTP)
	reload := func(bearer string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("POST", base+"reload", nil)
		if err != nil {
			t.Fatal(err)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	answer := func(name string) string {
		return strings.Join(parseDig(dig(t, "127.0.0.1", p.DNS, name, "A")).answer, ";")
	}
	if got := answer("new.example.test"); got != "" {
		t.Fatalf("before reload new.example.test answers %q", got)
	}
	code, body := get(t, base+"config")
	if code != 200 || !strings.Contains(body, `"token_file": "`) || strings.Contains(body, tok) {
		t.Errorf("GET config = %d, want 200 with token_file's path and never the token:\n%s", code, body)
	}

	write("192.0.2.99", "\n[[zones.\"example.test\".records]]\nname = \"new\"\ntype = \"A\"\ndata = \"192.0.2.123\"\n")
	if code, body := reload(""); code != 401 {
		t.Errorf("reload without the token = %d %s, want 401", code, body)
	}
	if code, body := reload("wrong"); code != 401 {
		t.Errorf("reload with a wrong token = %d %s, want 401", code, body)
	}
	if got := answer("new.example.test"); got != "" {
		t.Fatalf("a refused reload changed the answers: %q", got)
	}
	code, body = reload(tok)
	if code != 200 || !strings.Contains(body, `"loaded_at": "`) {
		t.Fatalf("reload = %d %s, want 200 with loaded_at", code, body)
	}
	if got, want := answer("new.example.test"), "new.example.test. 300 IN A 192.0.2.123"; got != want {
		t.Errorf("after reload: new.example.test %q, want %q", got, want)
	}
	if got, want := answer("www.example.test"), "www.example.test. 300 IN A 192.0.2.99"; got != want {
		t.Errorf("after reload: www.example.test %q, want %q", got, want)
	}

	bad, err := os.ReadFile("testdata/bad.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	code, body = reload(tok)
	if code != 422 || !strings.Contains(body, `unknown key \"edns_bufer\"`) || !strings.Contains(body, "3 problems") {
		t.Errorf("reload of a broken config = %d %s, want 422 with its problems", code, body)
	}
	for range 5 {
		if got, want := answer("new.example.test"), "new.example.test. 300 IN A 192.0.2.123"; got != want {
			t.Fatalf("after a broken reload: %q, want the previous config's %q", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := get(t, base+"config"); code != 200 || !strings.Contains(body, `"version": "v1"`) {
		t.Errorf("GET config after a broken reload = %d, want the running config:\n%s", code, body)
	}
}
