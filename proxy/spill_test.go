package proxy

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-gslb/meridian/health"
)

// spillConfig is an http listener (web) and a tcp listener (db) over pool p (127.0.1.1) that
// spill to pool q (127.0.1.2, another region), both at port.
func spillConfig(port int, extra string) string {
	return fmt.Sprintf(`
[server]
dns = ["127.0.0.1:5353"]
[regions.eu]
[regions.us]
[pools.p]
region = "eu"
endpoints = [{ address = "127.0.1.1" }]
[pools.q]
region = "us"
endpoints = [{ address = "127.0.1.2" }]
[proxy.web]
listen = "127.0.0.1:0"
pool = "p"
port = %[1]d
spill = ["q"]
%[2]s
[proxy.db]
mode = "tcp"
listen = "127.0.0.1:0"
pool = "p"
port = %[1]d
spill = ["q"]
`, port, extra)
}

// TestSpill: with its own backend up a listener serves it; down (or drained), L7 and L4 spill
// to the next region's pool, counted, unless the request asks to stay (Meridian-Spill); back
// up, the next request is served at home again.
func TestSpill(t *testing.T) {
	_, port := startBackends(t, 2)
	s := start(t, parse(t, spillConfig(port, "")))
	c := &http.Client{Timeout: 5 * time.Second}
	tests := []struct {
		name      string
		p         health.State
		override  string
		want      string // the backend serving both listeners
		spilling  bool
		stayCode  int // a request with Meridian-Spill: no
		wantCount float64
	}{
		{"own backend up", health.Up, "", "b1", false, 200, 0},
		{"own backend down", health.Down, "", "b2", true, 503, 2},
		{"own backend drained", health.Up, "drain", "b2", true, 503, 4},
		{"own backend back", health.Up, "", "b1", false, 200, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.ApplyHealth(func(id string) (health.State, string) {
				if id == "p/127.0.1.1" {
					return tc.p, tc.override
				}
				return health.Up, ""
			})
			if got := counts(t, s, "web", 2); got[tc.want] != 2 {
				t.Errorf("http: served %v, want %s", got, tc.want)
			}
			if got := getPath(t, s.Addr("db").String(), "/"); got != tc.want {
				t.Errorf("tcp: served %q, want %s", got, tc.want)
			}
			if got := testutil.ToFloat64(s.met.Spilled.WithLabelValues("web", "q")); got != tc.wantCount {
				t.Errorf("meridian_proxy_spilled_total{listener=web,to=q} = %v, want %v", got, tc.wantCount)
			}
			req, _ := http.NewRequest("GET", "http://"+s.Addr("web").String()+"/health", nil)
			req.Header.Set("Meridian-Spill", "no")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.stayCode {
				t.Errorf("with Meridian-Spill: %d, want %d (it never spills)", resp.StatusCode, tc.stayCode)
			}
			for _, sp := range s.Spills() {
				if sp.Spilling != tc.spilling || len(sp.Tiers) != 1 || sp.Tiers[0].Pool != "q" || sp.Tiers[0].Available != 1 {
					t.Errorf("spill %s = %+v, want spilling %v to q (1 available)", sp.Listener, sp, tc.spilling)
				}
			}
		})
	}
	var spillBackends int
	for _, b := range s.Backends() {
		if b.Spill == "q" && b.ID == "q/127.0.1.2" {
			spillBackends++
		}
	}
	if spillBackends != 2 {
		t.Errorf("backends = %+v, want q/127.0.1.2 listed as a spill target of web and db", s.Backends())
	}
}

// TestSpillRateCap: over spill_rate a spilled request is refused (503), not sent on.
func TestSpillRateCap(t *testing.T) {
	_, port := startBackends(t, 2)
	s := start(t, parse(t, spillConfig(port, "spill_rate = 0.01")))
	s.ApplyHealth(func(id string) (health.State, string) {
		if id == "p/127.0.1.1" {
			return health.Down, ""
		}
		return health.Up, ""
	})
	c := &http.Client{Timeout: 5 * time.Second}
	var codes []int
	for range 3 {
		resp, err := c.Get("http://" + s.Addr("web").String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != 200 || codes[1] != 503 || codes[2] != 503 {
		t.Errorf("codes = %v, want the burst of 1 spilled (200), then 503", codes)
	}
	if got := testutil.ToFloat64(s.met.Rejected.WithLabelValues("web", "spill_cap")); got != 2 {
		t.Errorf("rejected{reason=spill_cap} = %v, want 2", got)
	}
}
