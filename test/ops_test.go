package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOps: `meridian drain` takes an endpoint out of the answers through the node's API,
// `meridian status` shows it drained, `undrain` brings it back, and a wrong token is refused.
func TestOps(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongFile := filepath.Join(dir, "wrong")
	if err := os.WriteFile(wrongFile, []byte("guess"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := healthVars{Interval: "200ms"}
	for range 3 {
		vars.Backends = append(vars.Backends, startBackend(t, "127.0.0.1:0").addr)
	}
	p := freePorts(t)
	vars.ports = p
	path := writeConfig(t, dir, "ops.toml.tmpl", vars)
	startNode(t, dir, p, "serve", "-c", path)
	api := fmt.Sprintf("http://127.0.0.1:%d", p.HTTP)

	cli := func(args ...string) (string, int) {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	waitAnswer := func(want []string, why string) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for {
			f := strings.Fields(dig(t, "127.0.0.1", p.DNS, "+short", "www.example.test", "A"))
			slices.Sort(f)
			if slices.Equal(f, want) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: answer %v, want %v", why, f, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitAnswer([]string{"127.0.1.1", "127.0.1.2"}, "at start")

	if out, code := cli("drain", "-api", api, "-token-file", tokenFile, "-why", "kernel upgrade", "a/127.0.1.1"); code != 0 {
		t.Fatalf("drain: exit %d\n%s", code, out)
	}
	waitAnswer([]string{"127.0.1.2"}, "after drain")
	out, code := cli("status", "-api", api)
	t.Logf("meridian status:\n%s", out)
	if code != 0 || !strings.Contains(out, "drain by api 127.0.0.1: kernel upgrade") {
		t.Errorf("status: exit %d, want 0 and a/127.0.1.1 drained:\n%s", code, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "a/127.0.1.1 ") && !strings.Contains(l, " down ") {
			t.Errorf("status line %q: want state down", l)
		}
	}

	if out, code := cli("undrain", "-api", api, "-token-file", wrongFile, "a/127.0.1.1"); code != 1 || !strings.Contains(out, "401") {
		t.Errorf("undrain with a wrong token: exit %d\n%s\nwant exit 1 with 401", code, out)
	}
	if out, code := cli("undrain", "-api", api, "a/127.0.1.1"); code != 1 || !strings.Contains(out, "-token-file") {
		t.Errorf("undrain without -token-file: exit %d\n%s\nwant exit 1 naming -token-file", code, out)
	}
	waitAnswer([]string{"127.0.1.2"}, "after refused undrains")

	if out, code := cli("undrain", "-api", api, "-token-file", tokenFile, "a/127.0.1.1"); code != 0 {
		t.Fatalf("undrain: exit %d\n%s", code, out)
	}
	waitAnswer([]string{"127.0.1.1", "127.0.1.2"}, "after undrain")
}
