package l7

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
)

// certSet is the loaded certificates; the first is the default.
type certSet struct{ certs []*tls.Certificate }

func loadCerts(files []CertFiles) (*certSet, error) {
	cs := &certSet{}
	for _, f := range files {
		c, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("load certificate %s (key %s): %w", f.Cert, f.Key, err)
		}
		if c.Leaf == nil {
			if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
				return nil, fmt.Errorf("parse certificate %s: %w", f.Cert, err)
			}
		}
		cs.certs = append(cs.certs, &c)
	}
	return cs, nil
}

// ReloadCerts re-reads the certificate and key files; on error the old ones stay in use.
func (s *Server) ReloadCerts() error {
	if s.o.TLS == nil {
		return nil
	}
	cs, err := loadCerts(s.o.TLS.Certs)
	if err != nil {
		s.o.Logger.Warn("certificate reload failed; keeping the loaded ones", "err", err)
		return fmt.Errorf("l7 listener %s: %w", s.o.Name, err)
	}
	s.certs.Store(cs)
	s.o.Logger.Info("certificates reloaded", "count", len(cs.certs))
	return nil
}

// initTLS builds the listener's TLS configuration: certificates by SNI, ALPN h2 and
// http/1.1, and the HTTP/2 server the h2 connections are handed to.
func (s *Server) initTLS() {
	minVersion := s.o.TLS.MinVersion
	if minVersion == 0 {
		minVersion = tls.VersionTLS12
	}
	s.tls = &tls.Config{
		MinVersion: minVersion,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			cs := s.certs.Load()
			if hello.ServerName != "" {
				for _, c := range cs.certs {
					if c.Leaf != nil && c.Leaf.VerifyHostname(hello.ServerName) == nil {
						return c, nil
					}
				}
			}
			return cs.certs[0], nil
		},
	}
	s.initH2()
}
