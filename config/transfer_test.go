package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const transferZone = `
[zones."example.test"]
ns = ["ns1"]
`

// transferConfig writes a config (with good.secret and short.secret beside it) and parses it.
func transferConfig(t *testing.T, body string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	for name, s := range map[string]string{"good.secret": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==\n", "short.secret": "c2hvcnQ=", "bad.secret": "not base64!"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "meridian.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return Load(path)
}

func TestTransferConfig(t *testing.T) {
	cfg, err := transferConfig(t, `
[tsig."XFR-key"]
algorithm = "hmac-sha512"
secret_file = "good.secret"
`+transferZone+`
[zones."example.test".transfer]
allow = ["192.0.2.0/24", "2001:db8::53", "10.1.2.3/8"]
tsig_key = "xfr-key"
notify = ["192.0.2.53", "[2001:db8::53]:5353"]
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.TSIG) != 1 || cfg.TSIG[0].Name != "xfr-key." || cfg.TSIG[0].Algorithm != "hmac-sha512." || !strings.HasSuffix(cfg.TSIG[0].SecretFile, "good.secret") {
		t.Errorf("tsig = %+v", cfg.TSIG)
	}
	tr := cfg.Zones[0].Transfer
	wantAllow := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::53/128"), netip.MustParsePrefix("10.0.0.0/8")}
	wantNotify := []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53"), netip.MustParseAddrPort("[2001:db8::53]:5353")}
	if tr == nil || !slices.Equal(tr.Allow, wantAllow) || tr.TSIGKey != "xfr-key." || !slices.Equal(tr.Notify, wantNotify) {
		t.Errorf("transfer = %+v, want allow %v, key xfr-key., notify %v", tr, wantAllow, wantNotify)
	}
}

func TestTransferProblems(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string // each a substring of one problem
	}{
		{"no allow", transferZone + `[zones."example.test".transfer]
notify = ["192.0.2.53"]
`, []string{`zones."example.test".transfer.allow: at least one network is needed`}},
		{"bad entries", transferZone + `[zones."example.test".transfer]
allow = ["192.0.2.0/33"]
notify = ["nowhere", "0.0.0.0:53", "192.0.2.1", "192.0.2.1:53"]
`, []string{
			`allow[0]: "192.0.2.0/33" is not a CIDR`,
			`notify[0]: "nowhere" is not an address or ip:port`,
			`notify[1]: 0.0.0.0:53: a secondary's concrete address and port are needed`,
			`notify[3]: 192.0.2.1:53 is listed twice`,
		}},
		{"unknown key", `[tsig.a]
secret_file = "good.secret"
` + transferZone + `[zones."example.test".transfer]
allow = ["192.0.2.0/24"]
tsig_key = "b"
`, []string{`tsig_key: no such key: define it as [tsig.b] (defined: a)`}},
		{"unused key", `[tsig.a]
secret_file = "good.secret"
` + transferZone, []string{`meridian.toml:1: tsig.a: no zone's transfer uses this key`}},
		{"bad keys", `[tsig.a]
secret_file = "short.secret"
algorithm = "hmac-md5"
[tsig.b]
secret_file = "bad.secret"
[tsig.c]
secret_file = "missing.secret"
[tsig.d]
` + transferZone, []string{
			`tsig.a.secret_file: `, `the secret is 5 bytes, want at least 16`,
			`tsig.a.algorithm: "hmac-md5" is not one of hmac-sha256, hmac-sha384, hmac-sha512`,
			`tsig.b.secret_file: `, `not a base64 secret`,
			`tsig.c.secret_file: cannot read`,
			`tsig.d.secret_file: is required`,
		}},
		{"signed zone", transferZone + `[zones."example.test".dnssec]
keys = ["Kexample.test.+013+00001"]
[zones."example.test".transfer]
allow = ["192.0.2.0/24"]
`, []string{`is signed online`}},
		{"unknown key in the table", transferZone + `[zones."example.test".transfer]
allow = ["192.0.2.0/24"]
notfy = ["192.0.2.53"]
`, []string{`unknown key "notfy" (did you mean "notify"?) in zones."example.test".transfer`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := transferConfig(t, tc.body)
			if err == nil {
				t.Fatal("config loaded, want problems")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("problems do not mention %q:\n%v", w, err)
				}
			}
		})
	}
}
