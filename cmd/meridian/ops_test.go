package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/config"
)

func TestOpsCommands(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "token")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "meridian.toml")
	toml := strings.Replace(string(config.DefaultTOML), "[server]\n", "[server]\ntoken_file = \"token\"\n", 1)
	if err := os.WriteFile(cfg, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"serve refuses an empty token file", []string{"serve", "-c", cfg}, "token file " + empty + " is empty"},
		{"drain needs a token file", []string{"drain", "a/127.0.0.1"}, "pass -token-file FILE"},
		{"drain needs one endpoint", []string{"drain", "-token-file", empty}, "usage: meridian drain"},
		{"drain with an empty token file", []string{"force-up", "-token-file", empty, "a/127.0.0.1"}, "is empty"},
		{"status takes no argument", []string{"status", "x"}, "usage: meridian status"},
		{"status without a node", []string{"status", "-api", "http://127.0.0.1:1"}, "meridian status:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr)
			msg := stderr.String()
			if err != nil && err != errQuiet {
				msg += err.Error()
			}
			if err == nil || !strings.Contains(msg, tc.stderr) {
				t.Errorf("run %v = %v, stderr %q; want an error containing %q", tc.args, err, msg, tc.stderr)
			}
		})
	}
}
