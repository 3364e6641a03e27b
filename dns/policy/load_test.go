package policy

import (
	"strings"
	"testing"
	"time"
)

// loadMap is a LoadView over a map: endpoints not in it have no report.
type loadMap map[string]int64

func (l loadMap) InFlight(id string) (int64, bool) {
	n, ok := l[id]
	return n, ok
}

// TestFullEndpointsSpill: an endpoint at or over its pool's MaxInFlight is not serving, so a
// pool whose endpoints are all full spills to the next tier and the answer is degraded; a
// pool without MaxInFlight ignores loads, and a missing report is no load.
func TestFullEndpointsSpill(t *testing.T) {
	tests := []struct {
		name         string
		max          int
		load         loadMap
		want         []string
		pools        []string
		degraded     bool
		wantExplains []string
	}{
		{"no reports", 10, nil, []string{"127.0.1.1", "127.0.1.2"}, []string{"na-web"}, false, nil},
		{"under the limit", 10, loadMap{"na-web/127.0.1.1": 9, "na-web/127.0.1.2": 0}, []string{"127.0.1.1", "127.0.1.2"}, []string{"na-web"}, false,
			[]string{"pool na-web: 2/2 serving (min 1) eligible"}},
		{"one full", 10, loadMap{"na-web/127.0.1.1": 10}, []string{"127.0.1.2"}, []string{"na-web"}, true,
			[]string{"endpoint na-web/127.0.1.1 full (in-flight 10 >= max_inflight 10)", "pool na-web: 1/2 serving (min 1) eligible"}},
		{"all full spills", 10, loadMap{"na-web/127.0.1.1": 10, "na-web/127.0.1.2": 40}, []string{"127.0.2.1", "127.0.2.2"}, []string{"eu-web"}, true,
			[]string{"endpoint na-web/127.0.1.2 full (in-flight 40 >= max_inflight 10)", "pool na-web: 0/2 serving (min 1) not eligible", "pool eu-web: 2/2 serving"}},
		{"no limit configured", 0, loadMap{"na-web/127.0.1.1": 1e6, "na-web/127.0.1.2": 1e6}, []string{"127.0.1.1", "127.0.1.2"}, []string{"na-web"}, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			na, eu, _ := world()
			na.MaxInFlight = tc.max
			svc := newService(Failover, Weighted, na, eu)
			svc.Answers = 2
			r := Request{Service: svc, Client: located("NA", "US", "", 38, -77), Family: 4, Explain: true}
			if tc.load != nil {
				r.Load = tc.load
			}
			d := Decide(r)
			if !sameSet(addrStrings(d.Addrs), tc.want) || !sameSet(d.Pools, tc.pools) || d.Degraded != tc.degraded {
				t.Errorf("got %v from %v degraded %v, want %v from %v degraded %v", addrStrings(d.Addrs), d.Pools, d.Degraded, tc.want, tc.pools, tc.degraded)
			}
			steps := strings.Join(d.Steps, "\n")
			for _, w := range tc.wantExplains {
				if !strings.Contains(steps, w) {
					t.Errorf("steps lack %q:\n%s", w, steps)
				}
			}
			// The prepared path walks the same way.
			p := Prepare(svc, r.Client.Loc, true, 4)
			r.Explain = false
			if pd := DecidePrepared(r, p); !sameSet(addrStrings(pd.Addrs), tc.want) || pd.Degraded != tc.degraded {
				t.Errorf("prepared: got %v degraded %v, want %v degraded %v", addrStrings(pd.Addrs), pd.Degraded, tc.want, tc.degraded)
			}
		})
	}
}

// rttExplained is a LatencySource that says where each RTT came from.
type rttExplained struct{ rttMap }

func (r rttExplained) ExplainRTT(_ Client, region string) string {
	if _, ok := r.rttMap[region]; ok {
		return "source of " + region
	}
	return ""
}

func TestExplainNamesRTTSources(t *testing.T) {
	na, eu, ap := world()
	svc := newService(Latency, Weighted, na, eu, ap)
	src := rttExplained{rttMap{"eu": 12 * time.Millisecond, "na": 80 * time.Millisecond}}
	d := Decide(Request{Service: svc, Client: located("EU", "DE", "", 50, 8), Family: 4, Latency: src, Explain: true})
	steps := strings.Join(d.Steps, "\n")
	for _, w := range []string{"pool eu-web: RTT 12ms to eu from source of eu", "pool na-web: RTT 80ms to na from source of na"} {
		if !strings.Contains(steps, w) {
			t.Errorf("steps lack %q:\n%s", w, steps)
		}
	}
	if strings.Contains(steps, "pool ap-web: RTT") {
		t.Errorf("an unmeasured pool got an RTT source:\n%s", steps)
	}
}
