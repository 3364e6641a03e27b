package policy

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/health"
)

func TestDecideHealth(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(na, eu, ap *Pool)
		health    func(na, eu, ap *Pool) HealthView
		wantPools []string
		wantAddrs []string // as a set
	}{
		{"all up: first pool", nil, func(_, _, _ *Pool) HealthView { return healthMap{} }, []string{"na-web"}, []string{"127.0.1.1", "127.0.1.2"}},
		{"nil view: unknown counts as up", nil, func(_, _, _ *Pool) HealthView { return nil }, []string{"na-web"}, []string{"127.0.1.1", "127.0.1.2"}},
		{"unknown state counts as up", nil, func(na, _, _ *Pool) HealthView {
			return healthMap{na.Endpoints[0].ID: health.Unknown, na.Endpoints[1].ID: health.Up}
		}, []string{"na-web"}, []string{"127.0.1.1", "127.0.1.2"}},
		{"one down: the other serves", nil, func(na, _, _ *Pool) HealthView { return down(na.Endpoints[0].ID) }, []string{"na-web"}, []string{"127.0.1.2"}},
		{"pool down: next pool", nil, func(na, _, _ *Pool) HealthView { return poolDown(na) }, []string{"eu-web"}, []string{"127.0.2.1", "127.0.2.2"}},
		{"min_healthy 2 spills to the next pool", func(na, _, _ *Pool) { na.MinHealthy = 2 },
			func(na, _, _ *Pool) HealthView { return down(na.Endpoints[1].ID) }, []string{"eu-web"}, []string{"127.0.2.1", "127.0.2.2"}},
		{"min_healthy above the family's endpoints counts them", func(na, _, _ *Pool) { na.MinHealthy = 3 },
			func(_, _, _ *Pool) HealthView { return nil }, []string{"na-web"}, []string{"127.0.1.1", "127.0.1.2"}},
		{"disabled endpoint never answered", func(na, _, _ *Pool) { na.Endpoints[0].Enabled = false },
			func(_, _, _ *Pool) HealthView { return nil }, []string{"na-web"}, []string{"127.0.1.2"}},
		{"disabled endpoints do not count for min_healthy", func(na, _, _ *Pool) { na.Endpoints[0].Enabled = false; na.MinHealthy = 2 },
			func(_, _, _ *Pool) HealthView { return nil }, []string{"na-web"}, []string{"127.0.1.2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			na, eu, ap := world()
			if tc.setup != nil {
				tc.setup(na, eu, ap)
			}
			svc := newService(Failover, Weighted, na, eu, ap)
			svc.Answers = 8
			d := Decide(Request{Service: svc, Family: 4, Health: tc.health(na, eu, ap)})
			if d.Outcome != Answer {
				t.Fatalf("got outcome %s, want answer", d.Outcome)
			}
			if !slices.Equal(d.Pools, tc.wantPools) {
				t.Errorf("got pools %v, want %v", d.Pools, tc.wantPools)
			}
			if got := addrStrings(d.Addrs); !sameSet(got, tc.wantAddrs) {
				t.Errorf("got addrs %v, want %v in any order", got, tc.wantAddrs)
			}
		})
	}
}

func TestDecideFamily(t *testing.T) {
	tests := []struct {
		name        string
		family      int
		health      HealthView
		setup       func(eu *Pool, svc *Service)
		wantOutcome Outcome
		wantAddrs   []string
	}{
		{"A from the first pool", 4, nil, nil, Answer, []string{"127.0.1.1", "127.0.1.2"}},
		{"AAAA skips pools without IPv6", 6, nil, nil, Answer, []string{"2001:db8::21"}},
		{"AAAA with its only IPv6 endpoint down fails open to it", 6, down("eu-web/2001:db8::21"), nil, Answer, []string{"2001:db8::21"}},
		{"AAAA without IPv6 anywhere is nodata", 6, nil, func(eu *Pool, _ *Service) { eu.Endpoints = eu.Endpoints[:2] }, NoData, nil},
		{"AAAA with a disabled IPv6 endpoint only is nodata", 6, nil, func(eu *Pool, _ *Service) { eu.Endpoints[2].Enabled = false }, NoData, nil},
		{"the fallback's IPv6 does not make the service have AAAA", 6, nil, func(eu *Pool, svc *Service) {
			svc.Fallback, svc.OnAllDown = newPool("sorry", nil, "2001:db8::91"), UseFallback
			eu.Endpoints = eu.Endpoints[:2]
		}, NoData, nil},
		{"invalid family is nodata", 5, nil, nil, NoData, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			na, eu, ap := world()
			svc := newService(Failover, Weighted, na, eu, ap)
			svc.Answers = 8
			if tc.setup != nil {
				tc.setup(eu, svc)
			}
			d := Decide(Request{Service: svc, Family: tc.family, Health: tc.health})
			if d.Outcome != tc.wantOutcome {
				t.Fatalf("got outcome %s, want %s", d.Outcome, tc.wantOutcome)
			}
			if got := addrStrings(d.Addrs); !sameSet(got, tc.wantAddrs) {
				t.Errorf("got addrs %v, want %v", got, tc.wantAddrs)
			}
			if d.Outcome == NoData && d.Depends != Nothing {
				t.Errorf("got depends %s for a missing family, want nothing", d.Depends)
			}
		})
	}
}

func TestDecideAllDown(t *testing.T) {
	sorry := newPool("sorry", nil, "127.0.9.1", "2001:db8::91")
	v6less := newPool("sorry4", nil, "127.0.9.4")
	tests := []struct {
		name        string
		mode        AllDown
		fallback    *Pool
		order       Order
		wantOutcome Outcome
		wantPools   []string
		wantAddrs   []string
	}{
		{"all: fail open over the first pool", FailOpen, nil, Failover, Answer, []string{"na-web"}, []string{"127.0.1.2"}},
		{"all: the first pool in the geo order", FailOpen, nil, Geo, Answer, []string{"ap-web"}, []string{"127.0.3.1", "127.0.3.2"}},
		{"fallback", UseFallback, sorry, Failover, Answer, []string{"sorry-web"}, []string{"127.0.9.1"}},
		{"fallback missing: fail open", UseFallback, nil, Failover, Answer, []string{"na-web"}, []string{"127.0.1.2"}},
		{"fallback without the family: fail open", UseFallback, &Pool{Name: "empty"}, Failover, Answer, []string{"na-web"}, []string{"127.0.1.2"}},
		{"fallback v4 only is still used for A", UseFallback, v6less, Failover, Answer, []string{"sorry4-web"}, []string{"127.0.9.4"}},
		{"nodata", FailNoData, sorry, Failover, NoData, nil, nil},
		{"servfail", FailServFail, sorry, Failover, ServFail, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			na, eu, ap := world()
			na.Endpoints[0].Enabled = false // never answered, not even failing open
			svc := newService(tc.order, Weighted, na, eu, ap)
			svc.Answers, svc.OnAllDown, svc.Fallback = 8, tc.mode, tc.fallback
			client := located("AS", "JP", "", 35.7, 139.7)
			h := poolDown(na, eu, ap, sorry, v6less)
			d := Decide(Request{Service: svc, Client: client, Family: 4, Health: h, Explain: true})
			if d.Outcome != tc.wantOutcome {
				t.Fatalf("got outcome %s, want %s", d.Outcome, tc.wantOutcome)
			}
			if !slices.Equal(d.Pools, tc.wantPools) {
				t.Errorf("got pools %v, want %v", d.Pools, tc.wantPools)
			}
			if got := addrStrings(d.Addrs); !sameSet(got, tc.wantAddrs) {
				t.Errorf("got addrs %v, want %v", got, tc.wantAddrs)
			}
			want := "all pools down: on_all_down=" + tc.mode.String()
			if tc.mode == UseFallback && tc.fallback == nil {
				want += " but no fallback pool → fail open over na-web, ignoring health"
			}
			if !slices.ContainsFunc(d.Steps, func(s string) bool { return strings.HasPrefix(s, want) }) {
				t.Errorf("got steps %q, want one starting %q", d.Steps, want)
			}
		})
	}
}

func TestDecideAnswers(t *testing.T) {
	tests := []struct {
		name    string
		answers int
		sel     Select
		want    int
	}{
		{"0 counts as 1", 0, Weighted, 1},
		{"2 of 2", 2, Weighted, 2},
		{"more than the candidates: all of them", 5, Weighted, 2},
		{"random, more than the candidates", 5, Random, 2},
		{"hash, more than the candidates", 5, Hash, 2},
		{"above 8 counts as 8", 20, Random, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			na, eu, ap := world()
			svc := newService(Failover, tc.sel, na, eu, ap)
			svc.Answers = tc.answers
			for range 50 {
				d := Decide(Request{Service: svc, Client: located("", "", "", 0, 0), Family: 4})
				got := addrStrings(d.Addrs)
				if len(got) != tc.want {
					t.Fatalf("got %d addrs %v, want %d", len(got), got, tc.want)
				}
				if u := slices.Compact(slices.Sorted(slices.Values(got))); len(u) != len(got) {
					t.Fatalf("got addrs %v, want no duplicates", got)
				}
			}
		})
	}
}

func TestDecideDepends(t *testing.T) {
	tests := []struct {
		order    Order
		sel      Select
		client   string
		want     Depends
		wantBits int
	}{
		{Failover, Weighted, "192.0.2.1", Nothing, 0},
		{Failover, Random, "192.0.2.1", Nothing, 0},
		{Failover, Hash, "192.0.2.1", OnSubnet, 24},
		{Failover, Hash, "2001:db8::1", OnSubnet, 56},
		{Failover, Hash, "::ffff:192.0.2.1", OnSubnet, 24},
		{Geo, Weighted, "192.0.2.1", OnLocation, 0},
		{Proximity, Random, "192.0.2.1", OnLocation, 0},
		{Latency, Hash, "192.0.2.1", OnLocation, 24},
	}
	for _, tc := range tests {
		t.Run(tc.order.String()+"/"+tc.sel.String()+"/"+tc.client, func(t *testing.T) {
			na, eu, ap := world()
			svc := newService(tc.order, tc.sel, na, eu, ap)
			// An unlocated client: location orders still depend on location.
			d := Decide(Request{Service: svc, Client: Client{Addr: netip.MustParseAddr(tc.client)}, Family: 4})
			if d.Depends != tc.want || d.SubnetBits != tc.wantBits {
				t.Errorf("got depends %s /%d, want %s /%d", d.Depends, d.SubnetBits, tc.want, tc.wantBits)
			}
		})
	}
}

func TestDecideExplain(t *testing.T) {
	na, eu, ap := world()
	svc := newService(Geo, Weighted, na, eu, ap)
	r := Request{Service: svc, Client: located("EU", "DE", "DE-BE", 52.5, 13.4), Family: 4, Health: down(eu.Endpoints[0].ID)}
	if d := Decide(r); d.Steps != nil {
		t.Errorf("got steps %q without Explain, want none", d.Steps)
	}
	r.Explain = true
	d := Decide(r)
	want := []string{
		"service www: IPv4, order geo, select weighted, answers 1, on_all_down=all",
		"order geo: client EU/DE/DE-BE matched country DE → tiers [eu-web] [na-web 6556km] [ap-web 10256km]",
		"pool eu-web: 1/2 serving (min 1) eligible",
		"  not serving: eu-web/127.0.2.1 down",
		"select weighted 1 of 1: 127.0.2.2 (eu-web)",
	}
	if !slices.Equal(d.Steps, want) {
		t.Errorf("got steps\n%s\nwant\n%s", strings.Join(d.Steps, "\n"), strings.Join(want, "\n"))
	}
}

// TestDegraded: a decision says when it met endpoints that were not serving.
func TestDegraded(t *testing.T) {
	ep := func(id, a string) Endpoint {
		return Endpoint{ID: id, Addr: netip.MustParseAddr(a), Weight: 1, Enabled: true}
	}
	svc := &Service{Order: Failover, Answers: 2, Pools: []*Pool{
		{Name: "a", Endpoints: []Endpoint{ep("a/1", "192.0.2.1"), ep("a/2", "192.0.2.2")}},
		{Name: "b", Endpoints: []Endpoint{ep("b/1", "192.0.2.3")}},
	}}
	tests := []struct {
		name     string
		down     []string
		degraded bool
	}{
		{"all up", nil, false},
		{"a pool after the chosen one is down: not looked at", []string{"b/1"}, false},
		{"one endpoint of the chosen pool down", []string{"a/1"}, true},
		{"spilled to the next pool", []string{"a/1", "a/2"}, true},
		{"all down, failing open", []string{"a/1", "a/2", "b/1"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hv := healthMap{}
			for _, id := range tc.down {
				hv[id] = health.Down
			}
			d := Decide(Request{Service: svc, Client: Client{Addr: netip.MustParseAddr("198.51.100.1")}, Family: 4, Health: hv})
			if d.Degraded != tc.degraded {
				t.Errorf("Degraded = %v, want %v (answer %v)", d.Degraded, tc.degraded, d.Addrs)
			}
		})
	}
}

// sinceMap is a SinceView: states and when they changed.
type sinceMap struct {
	healthMap
	since map[string]time.Time
}

func (s sinceMap) Since(id string) time.Time { return s.since[id] }

// TestDegradedByRecentChange: an endpoint that changed state within Recently makes the answer
// degraded even though everything is up now; older changes do not.
func TestDegradedByRecentChange(t *testing.T) {
	now := time.Unix(1000, 0)
	svc := &Service{Order: Failover, Answers: 1, Pools: []*Pool{
		{Name: "a", Endpoints: []Endpoint{{ID: "a/1", Addr: netip.MustParseAddr("192.0.2.1"), Weight: 1, Enabled: true}}},
	}}
	for _, tc := range []struct {
		name     string
		changed  time.Duration // ago
		recently time.Duration
		want     bool
	}{
		{"changed just now", time.Second, 5 * time.Second, true},
		{"changed long ago", time.Minute, 5 * time.Second, false},
		{"no window", time.Second, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hv := sinceMap{healthMap{"a/1": health.Up}, map[string]time.Time{"a/1": now.Add(-tc.changed)}}
			d := Decide(Request{Service: svc, Client: Client{Addr: netip.MustParseAddr("198.51.100.1")}, Family: 4,
				Health: hv, Recently: tc.recently, Now: now})
			if d.Degraded != tc.want {
				t.Errorf("Degraded = %v, want %v", d.Degraded, tc.want)
			}
		})
	}
}
