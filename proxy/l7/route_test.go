package l7

import (
	"math"
	"strings"
	"testing"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

func TestRouting(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		api, v2, canary, wild, def := newBackend(t, "api", nil), newBackend(t, "v2", nil),
			newBackend(t, "canary", nil), newBackend(t, "wild", nil), newBackend(t, "default", nil)
		rr := func() *Route { return &Route{Selector: selector(t, "round_robin")} }
		routes := []*Route{
			{Host: "API.example.com", Backends: upstreams(api)},
			{Path: "/v2/*", Backends: upstreams(v2)},
			{Path: "/exact", Header: "X-Canary: 1", Backends: upstreams(canary)},
			{Header: "X-Canary", Path: "/present", Backends: upstreams(canary)},
			{Host: "*.wild.test", Backends: upstreams(wild)},
			{Host: "default.test", Backends: upstreams(def)},
		}
		for _, r := range routes {
			r.Selector = rr().Selector
		}
		_, url := startProxy(t, Options{Engine: engine, Routes: routes})
		c := newClient()
		tests := []struct {
			name, host, path string
			header           [2]string
			code             int
			want             string
		}{
			{"host exact, case and port ignored", "api.EXAMPLE.com:8080", "/v2/x", [2]string{}, 200, "api"},
			{"prefix", "other", "/v2/x/y", [2]string{}, 200, "v2"},
			{"prefix needs the slash", "other", "/v2", [2]string{}, 404, ""},
			{"header equals", "other", "/exact", [2]string{"X-Canary", "1"}, 200, "canary"},
			{"header differs", "other", "/exact", [2]string{"X-Canary", "2"}, 404, ""},
			{"exact path only", "other", "/exact/more", [2]string{"X-Canary", "1"}, 404, ""},
			{"header present", "other", "/present", [2]string{"X-Canary", "anything"}, 200, "canary"},
			{"header absent", "other", "/present", [2]string{}, 404, ""},
			{"wildcard one label", "a.wild.test", "/", [2]string{}, 200, "wild"},
			{"wildcard two labels", "a.b.wild.test", "/", [2]string{}, 200, "wild"},
			{"wildcard not the apex", "wild.test", "/", [2]string{}, 404, ""},
			{"first match wins", "api.example.com", "/v2/", [2]string{}, 200, "api"},
			{"no match", "nowhere.test", "/", [2]string{}, 404, ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				req := mustReq(t, "GET", url+tc.path, nil)
				req.Host = tc.host
				if tc.header[0] != "" {
					req.Header.Set(tc.header[0], tc.header[1])
				}
				resp, body := do(t, c, req)
				if resp.StatusCode != tc.code {
					t.Fatalf("status = %d, want %d", resp.StatusCode, tc.code)
				}
				if tc.code == 200 && body != tc.want {
					t.Errorf("backend = %q, want %q", body, tc.want)
				}
			})
		}
	})
}

func TestPercentageSplit(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		canary, stable := newBackend(t, "canary", nil), newBackend(t, "stable", nil)
		_, url := startProxy(t, Options{Engine: engine, Routes: []*Route{
			{Percent: 20, Backends: upstreams(canary), Selector: selector(t, "round_robin")},
			{Backends: upstreams(stable), Selector: selector(t, "round_robin")},
		}})
		c := newClient()
		const n = 1000
		got := 0
		for range n {
			if _, body := get(t, c, url+"/"); body == "canary" {
				got++
			}
		}
		// Binomial(1000, 0.2): sd ≈ 12.6; 5 sd either way.
		if math.Abs(float64(got)-200) > 63 {
			t.Errorf("canary took %d/%d, want about 200", got, n)
		}
	})
}

func TestHostMatch(t *testing.T) {
	tests := []struct {
		pattern  string
		wildcard bool
		host     string
		want     bool
	}{
		{"example.com", false, "Example.COM", true},
		{"example.com", false, "example.com:443", true},
		{"::1", false, "[::1]:80", true},
		{".example.com", true, "x.example.com", true},
		{".example.com", true, "example.com", false},
		{".example.com", true, "xexample.com", false},
	}
	for _, tc := range tests {
		if got := hostMatch(tc.pattern, tc.wildcard, tc.host); got != tc.want {
			t.Errorf("hostMatch(%q, %v, %q) = %v, want %v", tc.pattern, tc.wildcard, tc.host, got, tc.want)
		}
	}
}

func TestNewRejectsBadRoutes(t *testing.T) {
	for _, r := range []*Route{
		{Selector: nil},
		{Selector: new(noSel), Percent: 120},
		{Selector: new(noSel), HashKey: "body"},
		{Selector: new(noSel), Host: "*example.com"},
		{Selector: new(noSel), Sticky: &Sticky{Cookie: "a b"}},
	} {
		if _, err := New(Options{Listen: "127.0.0.1:0", Routes: []*Route{r}}); err == nil {
			t.Errorf("New accepted route %+v", r)
		}
	}
	if _, err := New(Options{Listen: "127.0.0.1:0", TLS: &TLS{Certs: []CertFiles{{"/nonexistent.pem", "/k.pem"}}}}); err == nil ||
		!strings.Contains(err.Error(), "/nonexistent.pem") {
		t.Errorf("missing cert: err = %v, want one naming the file", err)
	}
}

type noSel struct{}

func (noSel) Select([]*balance.Upstream, string) *balance.Upstream { return nil }
