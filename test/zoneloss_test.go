package test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type zoneLossVars struct {
	ports
	Zones bool
}

// TestZoneLossRefused: an empty or zone-less file read at reload time (SIGHUP or the API)
// does not take the node's zones away; asked for explicitly, it does, and the node then
// refuses every question without crashing. A node started with no zones does the same.
func TestZoneLossRefused(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := freePorts(t)
	path := writeConfig(t, dir, "zoneloss.toml.tmpl", zoneLossVars{ports: p, Zones: true})
	n := startNode(t, dir, p, "serve", "-c", path)
	status := func(name string) digResult {
		t.Helper()
		return parseDig(dig(t, "127.0.0.1", p.DNS, name, "A"))
	}
	stillServing := func(when string) {
		t.Helper()
		if r := status("www.example.test"); r.status != "NOERROR" || len(r.answer) != 1 {
			t.Fatalf("%s: www.example.test is %s %v, want the previous config's answer", when, r.status, r.answer)
		}
		select {
		case err := <-n.done:
			t.Fatalf("%s: meridian exited: %v", when, err)
		default:
		}
	}

	// A truncated file: empty.
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	n.signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(n.stderr.String(), "drops 1 of the 1 zones served (example.test.)") {
		if time.Now().After(deadline) {
			t.Fatalf("no zone-loss refusal logged 5s after SIGHUP with an empty file:\n%s", n.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stillServing("after SIGHUP with an empty file")

	// The server section alone, through the API and the CLI.
	writeConfig(t, dir, "zoneloss.toml.tmpl", zoneLossVars{ports: p})
	api := fmt.Sprintf("http://127.0.0.1:%d", p.HTTP)
	req, _ := http.NewRequest(http.MethodPost, api+"/api/v1/reload", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("POST /api/v1/reload of a zone-less config: %s, want 409 Conflict", resp.Status)
	}
	stillServing("after an API reload of a zone-less config")
	out, err := exec.Command(bin, "reload", "-api", api, "-token-file", tokenFile).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "409") || !strings.Contains(string(out), "allow-zone-loss") {
		t.Errorf("meridian reload of a zone-less config: %v\n%s\nwant exit 1 with 409 naming -allow-zone-loss", err, out)
	}
	stillServing("after meridian reload of a zone-less config")

	// Asked for: the zones go, and every question is refused.
	if out, err := exec.Command(bin, "reload", "-api", api, "-token-file", tokenFile, "-allow-zone-loss").CombinedOutput(); err != nil {
		t.Fatalf("meridian reload -allow-zone-loss: %v\n%s", err, out)
	}
	for _, name := range []string{"www.example.test", "example.test", "a.b.c.d.e.f.g", "."} {
		if r := status(name); r.status != "REFUSED" {
			t.Errorf("with no zones, %s is %s, want REFUSED", name, r.status)
		}
	}
	select {
	case err := <-n.done:
		t.Fatalf("meridian exited with no zones: %v", err)
	default:
	}

	// Started with no zones: the same.
	dir2 := t.TempDir()
	p2 := freePorts(t)
	if err := os.WriteFile(filepath.Join(dir2, "token"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path2 := writeConfig(t, dir2, "zoneloss.toml.tmpl", zoneLossVars{ports: p2})
	n2 := startNode(t, dir2, p2, "serve", "-c", path2)
	if r := parseDig(dig(t, "127.0.0.1", p2.DNS, "www.example.test", "A")); r.status != "REFUSED" {
		t.Errorf("a node started with no zones answers %s, want REFUSED", r.status)
	}
	if !strings.Contains(n2.stderr.String(), "the config has no zones") {
		t.Errorf("no warning that the config has no zones:\n%s", n2.stderr.String())
	}
}
