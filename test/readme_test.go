package test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/geo/geotest"
)

// TestREADMEExample runs the README's complete example through `meridian check`, with the
// files it names (a GeoIP database, a latency table, secrets, a certificate) beside it, so the
// reference a new user copies from is a config Meridian accepts.
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- readme-example: meridian.toml -->"
	_, rest, ok := strings.Cut(string(readme), marker)
	if !ok {
		t.Fatalf("README.md has no %q", marker)
	}
	rest = strings.TrimLeft(rest, "\n")
	body, ok := strings.CutPrefix(rest, "```toml\n")
	if !ok {
		t.Fatal("the README example is not a ```toml block right after its marker")
	}
	body, _, ok = strings.Cut(body, "\n```")
	if !ok {
		t.Fatal("the README example's block is not closed")
	}
	for _, table := range []string{"[server]", "[geo]", "[regions.", "[monitors.", "[pools.", "[zones.", ".services.", "[proxy.", ".tls]", ".sticky]", ".rate_limit]", ".routes]"} {
		if !strings.Contains(body, table) {
			t.Errorf("the complete example has no %s table", table)
		}
	}

	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("meridian.toml", body+"\n")
	write("api.token", "s3cret-token\n")
	write("peer.secret", "peer secret\n")
	write("latency.csv", "client,region,rtt_ms\n81.2.69.0/24,eu,12\ncontinent:NA,us,20\n")
	geotest.WriteCity(t, filepath.Join(dir, "GeoLite2-City.mmdb"), []geotest.Net{
		{CIDR: "81.2.69.0/24", Continent: "EU", Country: "GB", Lat: 51.5, Lon: -0.1},
	})
	cert, key := selfSigned(t, "www.example.com")
	write("web.pem", cert)
	write("web.key", key)

	out, err := exec.Command(bin, "check", "-c", filepath.Join(dir, "meridian.toml")).CombinedOutput()
	if err != nil {
		t.Fatalf("meridian check on the README's complete example: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "ok") {
		t.Errorf("meridian check said %q, want ok", out)
	}
}

// selfSigned returns a PEM certificate and key for name.
func selfSigned(t *testing.T, name string) (certPEM, keyPEM string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}
