package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDnstapDefaults(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "meridian.toml")
	cfg, err := Parse(file, []byte("[server]\nnode = \"edge-1\"\n\n[server.dnstap]\nfile = \"q.dnstap\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Server.Dnstap
	want := Dnstap{File: filepath.Join(dir, "q.dnstap"), Sample: 1, Buffer: 10000, Identity: "edge-1", Queries: true, Responses: true, Line: 4}
	if got == nil || *got != want {
		t.Errorf("dnstap = %+v, want %+v", got, want)
	}
	if cfg, err = Parse(file, []byte("[server]\n")); err != nil || cfg.Server.Dnstap != nil {
		t.Errorf("without [server.dnstap]: %+v, %v; want nil", cfg.Server.Dnstap, err)
	}
	cfg, err = Parse(file, []byte("[server.dnstap]\ntcp = \"127.0.0.1:6000\"\nsample = 0.1\nbuffer = 50\nidentity = \"x\"\nversion = \"v\"\nresponses = false\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.Server.Dnstap; d.TCP.String() != "127.0.0.1:6000" || d.Sample != 0.1 || d.Buffer != 50 || d.Identity != "x" || d.Version != "v" || !d.Queries || d.Responses {
		t.Errorf("dnstap = %+v", d)
	}
}

func TestDnstapProblems(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, table, want string
	}{
		{"no output", "sample = 1", "m.toml:1:1: server.dnstap: needs an output"},
		{"two outputs", "socket = \"/run/t.sock\"\nfile = \"q.dnstap\"", "m.toml:3:8: server.dnstap.file: socket is already the output"},
		{"bad tcp", "tcp = \"localhost\"", "m.toml:2:7: server.dnstap.tcp: \"localhost\" is not an ip:port address"},
		{"missing dir", "file = \"nope/q.dnstap\"", "m.toml:2:8: server.dnstap.file: " + filepath.Join(dir, "nope/q.dnstap") + ": the directory"},
		{"file is a dir", "file = \"adir\"", "is not a regular file"},
		{"sample zero", "file = \"q\"\nsample = 0", "m.toml:3:10: server.dnstap.sample: 0 logs nothing"},
		{"sample above one", "file = \"q\"\nsample = 1.5", "server.dnstap.sample: 1.5 is out of range 0..1"},
		{"buffer", "file = \"q\"\nbuffer = 0", "server.dnstap.buffer: 0 is out of range"},
		{"nothing logged", "file = \"q\"\nqueries = false\nresponses = false", "m.toml:4:13: server.dnstap.responses: queries and responses are both false"},
		{"unknown key", "file = \"q\"\nsampel = 1", "unknown key \"sampel\" (did you mean \"sample\"?) in server.dnstap"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(filepath.Join(dir, "m.toml"), []byte("[server.dnstap]\n"+tc.table+"\n"))
			if err == nil {
				t.Fatalf("accepted; want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got:\n%v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}
