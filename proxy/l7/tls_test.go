package l7

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for names (and its key) into dir and returns
// the files and the certificate.
func writeCert(t testing.TB, dir, base string, serial int64, names ...string) (CertFiles, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := CertFiles{Cert: filepath.Join(dir, base+".crt"), Key: filepath.Join(dir, base+".key")}
	if err := os.WriteFile(f.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.Key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return f, cert
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	one, c1 := writeCert(t, dir, "one", 1, "one.test")
	two, c2 := writeCert(t, dir, "two", 2, "two.test", "*.two.test")
	a := newBackend(t, "a", nil)
	s, url := startProxy(t, Options{TLS: &TLS{Certs: []CertFiles{one, two}}, Routes: catchAll(t, "round_robin", a)})
	addr := url[len("https://"):]
	roots := x509.NewCertPool()
	roots.AddCert(c1)
	roots.AddCert(c2)

	handshake := func(t *testing.T, cfg *tls.Config) (*tls.ConnectionState, error) {
		t.Helper()
		conn, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		st := conn.ConnectionState()
		return &st, nil
	}

	t.Run("sni picks the certificate", func(t *testing.T) {
		for _, tc := range []struct {
			sni    string
			serial int64
		}{{"one.test", 1}, {"two.test", 2}, {"x.two.test", 2}, {"", 1}, {"other.test", 1}} {
			st, err := handshake(t, &tls.Config{ServerName: tc.sni, InsecureSkipVerify: true})
			if err != nil {
				t.Fatalf("sni %q: %v", tc.sni, err)
			}
			if got := st.PeerCertificates[0].SerialNumber.Int64(); got != tc.serial {
				t.Errorf("sni %q: certificate %d, want %d", tc.sni, got, tc.serial)
			}
		}
	})
	t.Run("tls 1.1 refused", func(t *testing.T) {
		if _, err := handshake(t, &tls.Config{ServerName: "one.test", RootCAs: roots,
			MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
			t.Error("a TLS 1.1 handshake succeeded")
		}
	})
	t.Run("http/2", func(t *testing.T) {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			ForceAttemptHTTP2: true,
			TLSClientConfig:   &tls.Config{ServerName: "two.test", RootCAs: roots},
		}}
		defer c.CloseIdleConnections() // or the server's graceful stop waits for it
		req := mustReq(t, "GET", url+"/h2", nil)
		req.Header.Set("X-Forwarded-For", "192.0.2.9")
		resp, body := do(t, c, req)
		if resp.ProtoMajor != 2 || body != "a" {
			t.Fatalf("proto %d body %q, want HTTP/2 and a", resp.ProtoMajor, body)
		}
		for k, want := range map[string]string{
			"X-Got-X-Forwarded-Proto": "https",
			"X-Got-X-Forwarded-For":   "192.0.2.9, 127.0.0.1",
			"X-Got-Forwarded":         `for=127.0.0.1;proto=https;host="` + addr + `"`,
			"X-Got-Path":              "/h2",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s = %q, want %q", k, got, want)
			}
		}
	})
	t.Run("http/1.1 over tls", func(t *testing.T) {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{ServerName: "one.test", RootCAs: roots},
			TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{}, // no h2
		}}
		resp, body := get(t, c, url+"/")
		if resp.ProtoMajor != 1 || body != "a" || resp.Header.Get("X-Got-X-Forwarded-Proto") != "https" {
			t.Errorf("proto %d body %q xfp %q, want 1, a, https", resp.ProtoMajor, body, resp.Header.Get("X-Got-X-Forwarded-Proto"))
		}
	})
	t.Run("reload", func(t *testing.T) {
		writeCert(t, dir, "one", 11, "one.test")
		if err := s.ReloadCerts(); err != nil {
			t.Fatal(err)
		}
		st, err := handshake(t, &tls.Config{ServerName: "one.test", InsecureSkipVerify: true})
		if err != nil || st.PeerCertificates[0].SerialNumber.Int64() != 11 {
			t.Fatalf("after reload: %v, want serial 11", err)
		}
		os.WriteFile(one.Key, []byte("garbage"), 0o600)
		if err := s.ReloadCerts(); err == nil {
			t.Error("reload of a broken key succeeded")
		}
		st, err = handshake(t, &tls.Config{ServerName: "one.test", InsecureSkipVerify: true})
		if err != nil || st.PeerCertificates[0].SerialNumber.Int64() != 11 {
			t.Errorf("after a failed reload: %v, want serial 11 still", err)
		}
	})
}
