package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/config"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(good, config.DefaultTOML, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("[server]\nnode = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.toml")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		args           []string
		wantErr        bool
		stdout, stderr string // substrings
	}{
		{"no command prints usage", nil, true, "", "usage: meridian"},
		{"unknown command", []string{"frobnicate"}, true, "", `unknown command "frobnicate"`},
		{"help", []string{"help"}, false, "commands:", ""},
		{"version", []string{"version"}, false, "meridian ", ""},
		{"check good", []string{"check", "-c", good}, false, "ok (2 zones)", ""},
		{"check empty says nothing would be answered", []string{"check", "-c", empty}, false, "ok (0 zones: every DNS question would be refused", ""},
		{"reload without a token", []string{"reload"}, true, "", "-token-file"},
		{"check bad", []string{"check", "-c", bad}, true, "", bad + ":2:8: server.node: want a string, got integer"},
		{"check without -c", []string{"check"}, true, "", "usage: meridian check -c FILE"},
		{"check missing file", []string{"check", "-c", filepath.Join(dir, "nope.toml")}, true, "", "no such file"},
		{"serve bad log level", []string{"serve", "-log-level", "loud"}, true, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v\nstderr: %s", err, tc.wantErr, stderr.String())
			}
			if err != nil && err != errQuiet {
				stderr.WriteString(err.Error())
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tc.stdout)
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tc.stderr)
			}
		})
	}
}

func TestSampleName(t *testing.T) {
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	if got := sampleName(cfg); got != "www.example.test." {
		t.Errorf("sampleName = %q, want www.example.test.", got)
	}
	if got := sampleName(&config.Config{}); got != "" {
		t.Errorf("sampleName of an empty config = %q, want empty", got)
	}
}

// TestHelpIsNotAnError: `meridian CMD -h` prints CMD's flags and exits 0; a bad flag still fails.
func TestHelpIsNotAnError(t *testing.T) {
	for _, cmd := range [][]string{{"serve"}, {"check"}, {"explain"}, {"status"}, {"drain"}, {"undrain"},
		{"force-down"}, {"force-up"}, {"reload"}, {"replace"}, {"register"}, {"deregister"}, {"config", "push"},
		{"cluster"}, {"dnssec", "keygen"}, {"dnssec", "ds"}, {"probe"}, {"proxy"}} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), append(slices.Clone(cmd), "-h"), &stdout, &stderr); err != nil {
			t.Errorf("%v -h: %v, want no error", cmd, err)
		}
		if !strings.Contains(stderr.String(), "-") {
			t.Errorf("%v -h printed no flags: %q", cmd, stderr.String())
		}
		if err := run(context.Background(), append(slices.Clone(cmd), "-no-such-flag"), &stdout, &stderr); err == nil {
			t.Errorf("%v -no-such-flag: no error", cmd)
		}
	}
}
