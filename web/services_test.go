package web

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns"
	"github.com/meridian-gslb/meridian/dns/policy"
	"github.com/meridian-gslb/meridian/store"
)

// storeHealth is the store as the DNS policies see it, as a node wires it: one View per decision.
func storeHealth(h Health) dns.HealthSource {
	return func() policy.HealthView { return h.View() }
}

// servicesHandler is a DNS handler for testdata/services.toml whose policies read the API
// tests' store (newAPI), as cmd wires them.
func servicesHandler(t *testing.T) (*dns.Handler, *store.Store) {
	t.Helper()
	_, st := newAPI(t, "")
	cfg, err := config.Load("testdata/services.toml")
	if err != nil {
		t.Fatal(err)
	}
	h, err := dns.NewHandler(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), dns.WithHealth(storeHealth(st)))
	if err != nil {
		t.Fatal(err)
	}
	return h, st
}

// newServicesAPI serves testdata/services.toml with the API tests' store behind its health.
func newServicesAPI(t *testing.T) http.Handler {
	t.Helper()
	h, st := servicesHandler(t)
	s := New(prometheus.NewRegistry(), func() error { return nil }, &API{Health: st, Services: h}, slog.New(slog.DiscardHandler))
	return s.srv.Handler
}

func TestServicesAPI(t *testing.T) {
	h := newServicesAPI(t)
	tests := []struct {
		name, path string
		code       int
		golden     string   // compare the body with testdata/NAME.golden
		contains   []string // or look for these in it
	}{
		{"every service", "/api/v1/services", http.StatusOK, "services", nil},
		{"one service, any case, no final dot", "/api/v1/services/WWW.example.test", http.StatusOK, "service_www", nil},
		{"unknown service", "/api/v1/services/nope.example.test", http.StatusNotFound, "", []string{`"error"`, "nope.example.test."}},
		{"explain with live health", "/api/v1/explain?name=www.example.test&client=192.0.2.1", http.StatusOK, "",
			[]string{"pool a: 1/1 serving", "outcome answer: 127.0.0.1; ttl 30s"}},
		{"explain aaaa: the only ipv6 endpoint is down, fail open, degraded", "/api/v1/explain?name=www.example.test&type=AAAA&subnet=81.2.69.0/24", http.StatusOK, "",
			[]string{"pool a: 0/1 serving", "fail open", "ttl 5s (degraded_ttl",
				// which endpoint, since when, and each prober's latest report
				"not serving: a/2001:db8::1 down: since ", "n1 down 1s ago: connect: ", "n2 down 10s ago, stale: timeout"}},
		{"explain: a network placed by [geo.nets] names the override and its region", "/api/v1/explain?name=www.example.test&client=198.51.100.9", http.StatusOK, "",
			[]string{"placed in region us by [geo.nets]", "198.51.100.0/24", "the region's coordinates 39.00,-77.50"}},
		{"explain needs a name", "/api/v1/explain?client=192.0.2.1", http.StatusBadRequest, "", []string{"name is required"}},
		{"explain needs a client", "/api/v1/explain?name=www.example.test", http.StatusBadRequest, "", []string{"client or subnet is required"}},
		{"explain: bad type", "/api/v1/explain?name=www.example.test&client=192.0.2.1&type=BOGUS", http.StatusBadRequest, "", []string{"not a record type"}},
		{"explain: bad client", "/api/v1/explain?name=www.example.test&client=nope", http.StatusBadRequest, "", []string{"not an IP address"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, h, "GET", tc.path, "", "")
			if code != tc.code {
				t.Fatalf("GET %s = %d, want %d\n%s", tc.path, code, tc.code, body)
			}
			if tc.golden != "" {
				golden(t, tc.golden, body)
			}
			for _, want := range tc.contains {
				if !strings.Contains(body, want) {
					t.Errorf("GET %s: body lacks %q:\n%s", tc.path, want, body)
				}
			}
		})
	}
}
