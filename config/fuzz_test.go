package config_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns/zone"
)

// FuzzParse: no input makes the TOML decoder panic; a rejected config is a Problems list whose
// every entry names the file, a line inside it (or none) and what is wrong; an accepted one
// builds its zones and parses the same way twice.
func FuzzParse(f *testing.F) {
	f.Add(config.DefaultTOML)
	var seeds []string
	for _, glob := range []string{"testdata/*.toml", "../dns/testdata/*.toml", "../test/bench/*.toml"} {
		m, _ := filepath.Glob(glob)
		seeds = append(seeds, m...)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{"", "[server]", `[zones."."]`, `[zones."example.test"]` + "\nns = [\"ns1\"]\n", "a = [", "[[x]]\n[x]", "\"\\u0000\" = 1",
		"[server]\ndns = [\"127.0.0.1:0\"]\nudp_sockets = 99999999999999999999"} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	name := filepath.Join(dir, "fuzz.toml") // relative paths in the input resolve inside dir
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse(name, data)
		if err != nil {
			var probs config.Problems
			if !errors.As(err, &probs) || len(probs) == 0 {
				t.Fatalf("error %v (%T) is not a Problems list", err, err)
			}
			lines := bytes.Count(data, []byte{'\n'}) + 1
			for _, p := range probs {
				if p.File != name || p.Msg == "" || p.Line < 0 || p.Line > lines {
					t.Fatalf("problem %+v: want file %s, a message and a line in 0..%d", p, name, lines)
				}
			}
			return
		}
		if _, err := zone.New(cfg.Zones); err != nil {
			t.Fatalf("an accepted config's zones do not build: %v", err)
		}
		again, err := config.Parse(name, data)
		if err != nil || len(again.Zones) != len(cfg.Zones) || len(again.Pools) != len(cfg.Pools) {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}
