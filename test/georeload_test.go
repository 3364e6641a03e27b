package test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/geo/geotest"
)

// TestGeoDatabaseReload: a new GeoIP database takes effect on SIGHUP and, without one, when the
// watcher sees the file change; a corrupt file leaves the old data answering.
func TestGeoDatabaseReload(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "city.mmdb")
	place := func(continent string) {
		geotest.WriteCity(t, db, []geotest.Net{{CIDR: "81.2.64.0/20", Continent: continent, Country: "GB"}})
	}
	place("EU")
	p := freePorts(t)
	path := writeConfig(t, dir, "georeload.toml.tmpl", gslbVars{ports: p})
	n := startNode(t, dir, p, "serve", "-c", path)
	answer := func() string {
		return strings.TrimSpace(dig(t, "127.0.0.1", p.DNS, "+short", "www.example.test", "A", "+subnet=81.2.69.0/24"))
	}
	// eventually waits for the answer to become want, polling; the bound is generous, the
	// watcher checks every second.
	eventually := func(want, why string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got := answer()
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: answer %q, want %q within 10s", why, got, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if got := answer(); got != "127.0.2.1" {
		t.Fatalf("before any change: answer %q, want eu's 127.0.2.1", got)
	}

	place("AS")
	n.signal(syscall.SIGHUP)
	eventually("127.0.3.1", "after SIGHUP with the network moved to Asia")

	place("EU") // no signal: the watcher notices
	eventually("127.0.2.1", "after the file changed back, without SIGHUP")

	if err := os.WriteFile(db, []byte("not an mmdb"), 0o644); err != nil {
		t.Fatal(err)
	}
	n.signal(syscall.SIGHUP)
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		if got := answer(); got != "127.0.2.1" {
			t.Fatalf("with a corrupt database: answer %q, want the old data's 127.0.2.1", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(n.stderr.String(), "keeps serving") {
		t.Errorf("no log line says the corrupt database was refused:\n%s", n.stderr.String())
	}
}
