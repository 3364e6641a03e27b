package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	RegisterBuildInfo(reg)
	var ready atomic.Bool
	s := New(reg, func() error {
		if !ready.Load() {
			return errors.New("starting")
		}
		return nil
	}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := s.Listen(netip.MustParseAddrPort("127.0.0.1:0")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	base := "http://" + s.Addr().String()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name, path string
		ready      bool
		code       int
		contains   string
	}{
		{"healthz", "/healthz", false, 200, "ok"},
		{"readyz before ready", "/readyz", false, 503, "starting"},
		{"readyz when ready", "/readyz", true, 200, "ready"},
		{"metrics", "/metrics", true, 200, "meridian_build_info{"},
		{"unknown path", "/nope", true, 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ready.Store(tc.ready)
			code, body := get(tc.path)
			if code != tc.code || !strings.Contains(body, tc.contains) {
				t.Errorf("GET %s = %d %q, want %d containing %q", tc.path, code, body, tc.code, tc.contains)
			}
		})
	}
}
