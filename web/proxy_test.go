package web

import (
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestProxyAPI(t *testing.T) {
	backends := []ProxyBackend{
		{Listener: "web", ID: "eu-web/127.0.1.1", Addr: "127.0.1.1:9000", Weight: 1, Available: true, Healthy: true, InFlight: 3},
		{Listener: "web", ID: "eu-web/127.0.1.2", Addr: "127.0.1.2:9000", Weight: 2, Healthy: true, Draining: true},
	}
	_, st := newAPI(t, "")
	tests := []struct {
		name   string
		source func() []ProxyBackend
		method string
		code   int
		want   []ProxyBackend
	}{
		{"lists backends", func() []ProxyBackend { return backends }, "GET", 200, backends},
		{"none is an empty list", func() []ProxyBackend { return nil }, "GET", 200, []ProxyBackend{}},
		{"read only", func() []ProxyBackend { return backends }, "POST", 405, nil},
		{"absent without a proxy", nil, "GET", 404, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(prometheus.NewRegistry(), func() error { return nil }, &API{Health: st, Proxy: tc.source}, slog.New(slog.DiscardHandler))
			code, body := do(t, s.srv.Handler, tc.method, "/api/v1/proxy", "", "")
			if code != tc.code {
				t.Fatalf("%s /api/v1/proxy = %d %s, want %d", tc.method, code, body, tc.code)
			}
			if tc.want == nil {
				return
			}
			var got struct{ Backends []ProxyBackend }
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if len(got.Backends) != len(tc.want) || got.Backends == nil {
				t.Fatalf("backends = %+v, want %+v", got.Backends, tc.want)
			}
			for i := range tc.want {
				if got.Backends[i] != tc.want[i] {
					t.Errorf("backend %d = %+v, want %+v", i, got.Backends[i], tc.want[i])
				}
			}
		})
	}
}
