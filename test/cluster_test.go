package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestClusterOverridesPropagate: three nodes on a three-member etcd cluster; an override set
// through node 1's API reaches the DNS answers and the local proxies of nodes 2 and 3. 100
// transitions (force-down a/127.0.0.1, then clear it), each timed from the request to the first
// answer showing it on each other node; p99 must stay under a second.
func TestClusterOverridesPropagate(t *testing.T) {
	ec := startEtcd(t, 3)
	probe := clusterAcceptor(t, "127.0.0.1:0")
	nodes := startClusterNodes(t, ec, 3, "cluster-failover.toml.tmpl", func(_ int, _ string, v *clusterVars) {
		v.Probe, v.Proxy, v.BackendPort = probe, freeTCPPort(t), portOf(t, probe)
	})
	waitClusterNodes(t, nodes, 15*time.Second)
	const id = "a/127.0.0.1"
	others := nodes[1:]

	// dnsIs and proxyIs say whether node n shows a/127.0.0.1 up (true) or down in its answers
	// and in its proxy.
	dnsIs := func(n *clusterNode, up bool) (bool, string) {
		want := "127.0.0.2"
		if up {
			want = "127.0.0.1"
		}
		got, err := n.answerA("www.example.test")
		if err != nil {
			return false, err.Error()
		}
		return slices.Equal(got, []string{want}), fmt.Sprintf("%s answers www %v, want [%s]", n.name, got, want)
	}
	proxyIs := func(n *clusterNode, up bool) (bool, string) {
		avail, err := n.proxyAvailable(id)
		if err != nil {
			return false, err.Error()
		}
		return avail == up, fmt.Sprintf("%s: proxy backend %s available=%v, want %v", n.name, id, avail, up)
	}
	for _, n := range nodes {
		for _, check := range []func(*clusterNode, bool) (bool, string){dnsIs, proxyIs} {
			if ok, last := eventually(15*time.Second, 50*time.Millisecond, func() (bool, string) { return check(n, true) }); !ok {
				t.Fatalf("at start: %s", last)
			}
		}
	}

	// wait polls check on n every 5 ms from start and returns how long after start it first held
	// (limit when it never did).
	const limit = 5 * time.Second
	wait := func(start time.Time, n *clusterNode, up bool, check func(*clusterNode, bool) (bool, string)) (time.Duration, string) {
		for {
			ok, detail := check(n, up)
			took := time.Since(start)
			if ok {
				return took, ""
			}
			if took > limit {
				return limit, detail
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	const transitions = 100
	var dnsTimes, proxyTimes, acks []time.Duration
	var failures []string
	for i := range transitions {
		up := i%2 == 1 // even: force it down; odd: clear the override
		kind := "force-down"
		if up {
			kind = ""
		}
		start := time.Now()
		code, body, err := nodes[0].override(id, kind, "e2e propagation")
		if err != nil || code != http.StatusOK {
			t.Fatalf("transition %d: override %q on %s via %s: %d %s %v", i, kind, id, nodes[0].name, code, body, err)
		}
		acks = append(acks, time.Since(start))
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, n := range others {
			for _, c := range []struct {
				check func(*clusterNode, bool) (bool, string)
				into  *[]time.Duration
			}{{dnsIs, &dnsTimes}, {proxyIs, &proxyTimes}} {
				wg.Go(func() {
					took, detail := wait(start, n, up, c.check)
					mu.Lock()
					defer mu.Unlock()
					*c.into = append(*c.into, took)
					if detail != "" {
						failures = append(failures, fmt.Sprintf("transition %d (%q): not seen after %v: %s", i, kind, limit, detail))
					}
				})
			}
		}
		wg.Wait()
	}
	for _, f := range failures[:min(len(failures), 10)] {
		t.Error(f)
	}
	report := fmt.Sprintf("cluster overrides (3 etcd members, 3 nodes, %d transitions set on c1, seen on c2 and c3): "+
		"DNS p50 %s p99 %s; proxy p50 %s p99 %s; API acknowledgement p50 %s p99 %s\n", transitions,
		fmtMS(percentile(dnsTimes, 50)), fmtMS(percentile(dnsTimes, 99)),
		fmtMS(percentile(proxyTimes, 50)), fmtMS(percentile(proxyTimes, 99)),
		fmtMS(percentile(acks, 50)), fmtMS(percentile(acks, 99)))
	t.Log(report)
	if err := os.WriteFile(filepath.Join(artifactDir(t), "cluster.txt"), []byte(report), 0o644); err != nil {
		t.Error(err)
	}
	if p := percentile(dnsTimes, 99); p > time.Second {
		t.Errorf("DNS propagation p99 %v, want at most 1s", p)
	}
	if p := percentile(proxyTimes, 99); p > time.Second {
		t.Errorf("proxy propagation p99 %v, want at most 1s", p)
	}

	// One history: every node lists the transitions every node decided, each naming its node,
	// in one sequence.
	ok, last := eventually(10*time.Second, 100*time.Millisecond, func() (bool, string) {
		_, body, err := nodes[2].call(http.MethodGet, "/api/v1/events?target=a/127.0.0.1&limit=1000", nil)
		if err != nil {
			return false, err.Error()
		}
		var evs struct {
			Events []struct {
				Seq  uint64 `json:"seq"`
				Node string `json:"node"`
			} `json:"events"`
		}
		if err := json.Unmarshal([]byte(body), &evs); err != nil {
			return false, err.Error()
		}
		by := map[string]int{}
		var prev uint64
		for _, e := range evs.Events {
			if e.Seq <= prev {
				return false, fmt.Sprintf("seq %d after %d", e.Seq, prev)
			}
			prev = e.Seq
			by[e.Node]++
		}
		for _, n := range nodes {
			if by[n.name] < transitions {
				return false, fmt.Sprintf("events by node: %v, want at least %d from each", by, transitions)
			}
		}
		return true, ""
	})
	if !ok {
		t.Errorf("the cluster's history on %s: %s", nodes[2].name, last)
	}
}

// TestClusterSurvivesEtcdMemberKill: drains of 200 endpoints, one after another through the three
// nodes in turn, while the etcd leader is SIGKILLed after ~60 of them. A drain is either
// acknowledged (200) or refused (503); every acknowledged one is then in force on every node.
func TestClusterSurvivesEtcdMemberKill(t *testing.T) {
	ec := startEtcd(t, 3)
	probe := clusterAcceptor(t, "127.0.0.1:0")
	var many, ids []string
	for i := 1; i <= 200; i++ {
		a := fmt.Sprintf("127.0.10.%d", i)
		many = append(many, a)
		ids = append(ids, "big/"+a)
	}
	nodes := startClusterNodes(t, ec, 3, "cluster-drains.toml.tmpl", func(_ int, _ string, v *clusterVars) {
		v.Probe, v.Many = probe, many
	})
	waitClusterNodes(t, nodes, 15*time.Second)
	for _, n := range nodes {
		if ok, last := eventually(10*time.Second, 100*time.Millisecond, func() (bool, string) {
			m, err := n.overrides()
			if err != nil {
				return false, err.Error()
			}
			for _, id := range ids {
				if _, ok := m[id]; !ok {
					return false, fmt.Sprintf("%s: no %s in GET /api/v1/endpoints", n.name, id)
				}
			}
			return true, ""
		}); !ok {
			t.Fatalf("at start: %s", last)
		}
	}

	const killAfter = 60
	var acked, refused []string
	var others []string
	killed := make(chan string, 1)
	start := time.Now()
	var killedAt time.Duration
	for i, id := range ids {
		if i == killAfter {
			killedAt = time.Since(start)
			go func() {
				victim := ec.leader()
				what := "leader"
				if victim < 0 {
					victim, what = 0, "no leader found; member 1"
				}
				ec.kill(victim)
				killed <- fmt.Sprintf("%s (%s)", ec.members[victim].name, what)
			}()
		}
		n := nodes[i%len(nodes)]
		t0 := time.Now()
		code, body, err := n.override(id, "drain", "e2e member kill")
		took := time.Since(t0)
		switch {
		case err == nil && code == http.StatusOK:
			acked = append(acked, id)
		case err == nil && code == http.StatusServiceUnavailable:
			refused = append(refused, id)
			var e struct{ Error string }
			if json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
				t.Errorf("%s: drain %s: 503 with body %q, want {\"error\": \"...\"}", n.name, id, body)
			}
			t.Logf("%s: drain %s refused after %v: %s", n.name, id, took.Round(time.Millisecond), compact(body))
		default:
			others = append(others, fmt.Sprintf("%s: drain %s: %d %s %v", n.name, id, code, body, err))
		}
	}
	victim := <-killed
	sent := time.Since(start)
	for _, o := range others[:min(len(others), 10)] {
		t.Errorf("neither acknowledged nor refused: %s", o)
	}

	// Every acknowledged drain is in force on every node within a few seconds: none lost.
	const settle = 10 * time.Second
	var lost map[string][]string
	ok, _ := eventually(settle, 200*time.Millisecond, func() (bool, string) {
		lost = map[string][]string{}
		for _, n := range nodes {
			m, err := n.overrides()
			if err != nil {
				lost[n.name] = []string{err.Error()}
				continue
			}
			for _, id := range acked {
				if m[id] != "drain" {
					lost[n.name] = append(lost[n.name], id)
				}
			}
		}
		return len(lost) == 0, ""
	})
	if !ok {
		for name, ids := range lost {
			t.Errorf("%s: %d acknowledged drains not in force %v after the last one: %v", name, len(ids), settle, ids[:min(len(ids), 10)])
		}
	}
	// And by GET /api/v1/endpoints/{id} on every node, for a sample around the kill.
	for _, id := range acked {
		var i int
		fmt.Sscanf(id, "big/127.0.10.%d", &i)
		if i < killAfter-5 || i > killAfter+25 {
			continue
		}
		for _, n := range nodes {
			e, err := n.endpoint(id)
			if err != nil || e.overrideKind() != "drain" {
				t.Errorf("%s: GET /api/v1/endpoints/%s: override %q %v, want drain", n.name, id, e.overrideKind(), err)
			}
		}
	}
	// Refused drains that reached etcd anyway (a write that timed out on its way may).
	landed := 0
	if m, err := nodes[0].overrides(); err == nil {
		for _, id := range refused {
			if m[id] == "drain" {
				landed++
			}
		}
	}
	t.Logf("etcd %s SIGKILLed after %d drains (%v in); %d drains in %v: %d acknowledged, %d refused with 503 (%d of those in force anyway), %d otherwise",
		victim, killAfter, killedAt.Round(time.Millisecond), len(ids), sent.Round(time.Millisecond), len(acked), len(refused), landed, len(others))
	if len(acked) < len(ids)/2 {
		t.Errorf("only %d of %d drains acknowledged with one etcd member of three down", len(acked), len(ids))
	}
}

// TestClusterWithoutEtcd: with every etcd member stopped the nodes keep answering from their
// local state (30 s of queries, every answer the same, none failed) and refuse an override with
// 503 within the dial timeout; once etcd is back an override set on node 2 reaches node 1.
func TestClusterWithoutEtcd(t *testing.T) {
	ec := startEtcd(t, 3)
	probe := clusterAcceptor(t, "127.0.0.1:0")
	nodes := startClusterNodes(t, ec, 2, "cluster-failover.toml.tmpl", func(_ int, _ string, v *clusterVars) { v.Probe = probe })
	waitClusterNodes(t, nodes, 15*time.Second)
	n1, n2 := nodes[0], nodes[1]
	answers := func(want string) func() (bool, string) {
		return func() (bool, string) {
			for _, n := range nodes {
				got, err := n.answerA("www.example.test")
				if err != nil {
					return false, err.Error()
				}
				if !slices.Equal(got, []string{want}) {
					return false, fmt.Sprintf("%s answers www %v, want [%s]", n.name, got, want)
				}
			}
			return true, ""
		}
	}
	overrideIs := func(n *clusterNode, id, kind string) func() (bool, string) {
		return func() (bool, string) {
			e, err := n.endpoint(id)
			if err != nil {
				return false, err.Error()
			}
			return e.overrideKind() == kind, fmt.Sprintf("%s: %s has override %q, want %q", n.name, id, e.overrideKind(), kind)
		}
	}
	if ok, last := eventually(15*time.Second, 50*time.Millisecond, answers("127.0.0.1")); !ok {
		t.Fatalf("at start: %s", last)
	}

	// A drain set on node 1 is seen on node 2.
	n1.mustCall(t, http.StatusOK, http.MethodPost, "/api/v1/endpoints/a/127.0.0.1/override", map[string]string{"kind": "drain", "why": "e2e"})
	if ok, last := eventually(5*time.Second, 20*time.Millisecond, overrideIs(n2, "a/127.0.0.1", "drain")); !ok {
		t.Fatalf("drain set on c1: %s", last)
	}
	if ok, last := eventually(5*time.Second, 20*time.Millisecond, answers("127.0.0.2")); !ok {
		t.Fatalf("drain set on c1: %s", last)
	}

	// Without etcd: 30 s of queries to both nodes, every 200 ms; an override on node 1 meanwhile.
	ec.stopAll()
	stopped := time.Now()
	type refusal struct {
		code int
		body string
		err  error
		took time.Duration
	}
	refused := make(chan refusal, 1)
	time.AfterFunc(3*time.Second, func() {
		t0 := time.Now()
		code, body, err := n1.override("b/127.0.0.2", "force-down", "e2e without etcd")
		refused <- refusal{code, body, err, time.Since(t0)}
	})
	var queries, failed, changed int
	var firstBad []string
	for time.Since(stopped) < 30*time.Second {
		for _, n := range nodes {
			queries++
			got, err := n.answerA("www.example.test")
			switch {
			case err != nil:
				failed++
				firstBad = append(firstBad, fmt.Sprintf("%v in: %v", time.Since(stopped).Round(time.Millisecond), err))
			case !slices.Equal(got, []string{"127.0.0.2"}):
				changed++
				firstBad = append(firstBad, fmt.Sprintf("%v in: %s answers www %v, want [127.0.0.2]", time.Since(stopped).Round(time.Millisecond), n.name, got))
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("etcd down for 30s: %d queries to the two nodes, %d failed, %d changed answers", queries, failed, changed)
	if failed+changed > 0 {
		t.Errorf("without etcd, %d of %d queries failed and %d changed answer; first: %v", failed, queries, changed, firstBad[:min(len(firstBad), 10)])
	}
	r := <-refused
	var e struct{ Error string }
	switch {
	case r.err != nil:
		t.Errorf("without etcd, POST override on c1: %v after %v, want 503", r.err, r.took)
	case r.code != http.StatusServiceUnavailable || json.Unmarshal([]byte(r.body), &e) != nil || e.Error == "":
		t.Errorf("without etcd, POST override on c1: %d %s after %v, want 503 {\"error\": ...}", r.code, r.body, r.took)
	case r.took > 5*time.Second:
		t.Errorf("without etcd, POST override on c1 answered 503 after %v, want within a few seconds (dial_timeout 2s)", r.took)
	default:
		t.Logf("without etcd, POST override on c1: 503 after %v: %s", r.took.Round(time.Millisecond), compact(r.body))
	}

	// etcd back: no manual step; an override set on node 2 reaches node 1.
	ec.startAll()
	back := time.Now()
	var code int
	var body string
	ok, _ := eventually(30*time.Second, 500*time.Millisecond, func() (bool, string) {
		var err error
		code, body, err = n2.override("a/127.0.0.1", "force-up", "e2e etcd back")
		return err == nil && code == http.StatusOK, ""
	})
	if !ok {
		t.Fatalf("etcd back for 30s: POST force-up on c2 still answers %d %s", code, body)
	}
	t.Logf("etcd back: c2 accepted an override %v after the members were healthy", time.Since(back).Round(time.Millisecond))
	if ok, last := eventually(10*time.Second, 20*time.Millisecond, overrideIs(n1, "a/127.0.0.1", "force-up")); !ok {
		t.Errorf("force-up set on c2 after etcd came back: %s", last)
	}
	if ok, last := eventually(10*time.Second, 20*time.Millisecond, answers("127.0.0.1")); !ok {
		t.Errorf("force-up set on c2 after etcd came back: %s", last)
	}
	// The override refused while etcd was down was not applied then, nor later.
	for _, n := range nodes {
		if e, err := n.endpoint("b/127.0.0.2"); err != nil || e.overrideKind() != "" {
			t.Errorf("%s: b/127.0.0.2 has override %q (%v), want none: its POST was refused with 503", n.name, e.overrideKind(), err)
		}
	}
	waitClusterNodes(t, nodes, 15*time.Second)
}

// TestClusterDynamicEndpoints: an autoscaler registers 1,000 endpoints with a 5 s TTL through
// node 1 and renews them; when it stops renewing half of them those leave both nodes' answers
// within the TTL and a few seconds, and the rest stay. A deregistration drains an endpoint at
// once and removes it after the pool's drain_timeout; one that would leave a pool below
// min_healthy is refused unless forced; a configured endpoint cannot be deregistered.
func TestClusterDynamicEndpoints(t *testing.T) {
	ec := startEtcd(t, 3)
	// Warnings only: every registration and renewal is an INFO line, thousands of them.
	nodes := startClusterNodes(t, ec, 2, "cluster-dynamic.toml.tmpl", nil, "-log-level", "warn")
	waitClusterNodes(t, nodes, 15*time.Second)
	n1, n2 := nodes[0], nodes[1]

	// poolAddrs is what GET /api/v1/services on n shows of pool's endpoints: address → dynamic.
	poolAddrs := func(n *clusterNode, pool string) (map[string]bool, error) {
		code, b, err := n.call(http.MethodGet, "/api/v1/services", nil)
		if err != nil {
			return nil, err
		}
		if code != http.StatusOK {
			return nil, fmt.Errorf("GET /api/v1/services: %d %s", code, b)
		}
		var out struct {
			Services []struct {
				Pools []struct {
					Name      string
					Endpoints []struct {
						Address string
						State   string
						Dynamic bool
					}
				}
			}
		}
		if err := json.Unmarshal([]byte(b), &out); err != nil {
			return nil, err
		}
		m := map[string]bool{}
		for _, s := range out.Services {
			for _, p := range s.Pools {
				if p.Name == pool {
					for _, e := range p.Endpoints {
						m[e.Address] = e.Dynamic
					}
				}
			}
		}
		return m, nil
	}
	// listed is GET /api/v1/pools/{pool}/endpoints on n: address → the entry.
	type poolEndpoint struct {
		Address string `json:"address"`
		Weight  int    `json:"weight"`
		Dynamic bool   `json:"dynamic"`
	}
	listed := func(n *clusterNode, pool string) (map[string]poolEndpoint, error) {
		code, b, err := n.call(http.MethodGet, "/api/v1/pools/"+pool+"/endpoints", nil)
		if err != nil {
			return nil, err
		}
		if code != http.StatusOK {
			return nil, fmt.Errorf("GET /api/v1/pools/%s/endpoints: %d %s", pool, code, b)
		}
		var out struct{ Endpoints []poolEndpoint }
		if err := json.Unmarshal([]byte(b), &out); err != nil {
			return nil, fmt.Errorf("GET /api/v1/pools/%s/endpoints: %v: %s", pool, err, b)
		}
		m := map[string]poolEndpoint{}
		for _, e := range out.Endpoints {
			m[e.Address] = e
		}
		return m, nil
	}
	// exactly says whether pool on every node shows exactly want, each dynamic.
	exactly := func(pool string, want []string) func() (bool, string) {
		return func() (bool, string) {
			for _, n := range nodes {
				m, err := poolAddrs(n, pool)
				if err != nil {
					return false, err.Error()
				}
				wanted := make(map[string]bool, len(want))
				var missing, extra, static []string
				for _, a := range want {
					wanted[a] = true
					if dyn, ok := m[a]; !ok {
						missing = append(missing, a)
					} else if !dyn {
						static = append(static, a)
					}
				}
				for a := range m {
					if !wanted[a] {
						extra = append(extra, a)
					}
				}
				if len(missing)+len(extra)+len(static) > 0 {
					return false, fmt.Sprintf("%s: pool %s has %d endpoints, want %d: missing %v, extra %v, not dynamic %v",
						n.name, pool, len(m), len(want), missing[:min(len(missing), 5)], extra[:min(len(extra), 5)], static[:min(len(static), 5)])
				}
			}
			return true, ""
		}
	}

	// Unknown pools.
	if code, b, err := n1.call(http.MethodPost, "/api/v1/pools/nope/endpoints", map[string]any{"address": "127.0.5.1"}); err != nil || code != http.StatusNotFound {
		t.Errorf("POST /api/v1/pools/nope/endpoints: %d %s %v, want 404", code, b, err)
	}

	// The autoscaler: 1,000 endpoints, ttl 5s, through node 1, 16 at a time, renewed every 1.5 s.
	// The first registration holds them for 30 s and measures how long a round takes: on a loaded
	// machine (1,000 registrations taking 4–5 s) a 5 s lease would lapse before its renewal, so
	// the lease is then at least three rounds (the README's figures are from the 5 s case).
	var addrs []string
	for i := range 1000 {
		addrs = append(addrs, fmt.Sprintf("127.20.%d.%d", i/200, i%200+1))
	}
	var regErrs atomic.Int64
	var firstErr atomic.Value
	leaseTTL := "30s"
	register := func(list []string) time.Duration {
		t0 := time.Now()
		work := make(chan string)
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for a := range work {
					code, b, err := n1.call(http.MethodPost, "/api/v1/pools/dyn/endpoints", map[string]any{"address": a, "weight": 1, "ttl": leaseTTL})
					if err != nil || code != http.StatusOK {
						regErrs.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("register %s: %d %s %v", a, code, strings.TrimSpace(b), err))
					}
				}
			})
		}
		for _, a := range list {
			work <- a
		}
		close(work)
		wg.Wait()
		return time.Since(t0)
	}
	took := register(addrs)
	t.Logf("registered 1000 endpoints through c1 in %v", took.Round(time.Millisecond))
	if n := regErrs.Load(); n > 0 {
		t.Fatalf("%d of 1000 registrations failed; first: %v", n, firstErr.Load())
	}
	if ok, last := eventually(20*time.Second, 200*time.Millisecond, exactly("dyn", addrs)); !ok {
		t.Fatalf("after registering 1000: %s", last)
	}
	ttl := max(5*time.Second, (3 * took).Round(time.Second))
	leaseTTL = ttl.String() // the renewer's rounds, from here on: set before it starts
	if ttl > 5*time.Second {
		t.Logf("registering took %v: leases of %v instead of 5s", took.Round(time.Millisecond), ttl)
	}
	var keep, drop []string
	for i, a := range addrs {
		if i%2 == 0 {
			keep = append(keep, a)
		} else {
			drop = append(drop, a)
		}
	}
	// The renewer: every 1.5 s, all of them until told, then only keep.
	var halve atomic.Bool
	var lastDropRenewed atomic.Int64 // UnixNano of the end of the last round that renewed drop
	lastDropRenewed.Store(time.Now().UnixNano())
	var halvedRounds atomic.Int64
	stopRenew := make(chan struct{})
	renewed := make(chan struct{})
	var rounds []time.Duration
	go func() {
		defer close(renewed)
		tick := time.NewTicker(1500 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopRenew:
				return
			case <-tick.C:
			}
			if halve.Load() {
				rounds = append(rounds, register(keep))
				halvedRounds.Add(1)
			} else {
				rounds = append(rounds, register(addrs))
				lastDropRenewed.Store(time.Now().UnixNano())
			}
		}
	}()
	time.Sleep(max(5*time.Second, ttl)) // renewals alone hold them past their TTL (and the first 30 s lease is replaced)
	if ok, last := exactly("dyn", addrs)(); !ok {
		t.Errorf("renewed every 1.5s, %v after registration (ttl %v): %s", max(5*time.Second, ttl), ttl, last)
	}
	halve.Store(true)
	// A round that started before halve may still be running: wait for one without drop.
	if ok, _ := eventually(20*time.Second, 20*time.Millisecond, func() (bool, string) { return halvedRounds.Load() > 0, "" }); !ok {
		t.Fatal("no renewal round of the kept half within 20s")
	}
	// Those not renewed go within the TTL and a few seconds of their last renewal; the rest stay.
	since := time.Unix(0, lastDropRenewed.Load())
	var keepLost string
	ok, last := eventually(time.Until(since.Add(ttl+5*time.Second)), 200*time.Millisecond, func() (bool, string) {
		ok, detail := exactly("dyn", keep)()
		detail += fmt.Sprintf(" (etcd holds %d registrations of pool dyn)", ec.count("/meridian-e2e/endpoints/dyn/"))
		if !ok {
			for _, n := range nodes {
				if m, err := poolAddrs(n, "dyn"); err == nil {
					for _, a := range keep {
						if _, found := m[a]; !found && keepLost == "" {
							keepLost = fmt.Sprintf("%s: renewed endpoint %s left pool dyn (%v after the last renewal of the others)", n.name, a, time.Since(since))
						}
					}
				}
			}
		}
		return ok, detail
	})
	gone := time.Since(since)
	if !ok {
		t.Errorf("half the endpoints not renewed for %v (ttl %v): %s", gone.Round(time.Millisecond), ttl, last)
		// How late they go, for the report (bounded; the kept half still renewed).
		if ok, last := eventually(30*time.Second, 500*time.Millisecond, exactly("dyn", keep)); ok {
			t.Logf("they left both nodes %v after their last renewal", time.Since(since).Round(time.Millisecond))
		} else {
			t.Logf("%v after their last renewal: %s", time.Since(since).Round(time.Millisecond), last)
		}
	} else {
		t.Logf("the 500 endpoints not renewed left both nodes %v after their last renewal (ttl %v)", gone.Round(time.Millisecond), ttl)
	}
	close(stopRenew)
	<-renewed
	t.Logf("renewal rounds took %v", rounds)
	if keepLost != "" {
		t.Error(keepLost)
	}
	if n := regErrs.Load(); n > 0 {
		t.Errorf("%d renewals failed; first: %v", n, firstErr.Load())
	}
	if m, err := listed(n2, "dyn"); err != nil {
		t.Error(err)
	} else if e, ok := m[keep[0]]; !ok || !e.Dynamic || e.Weight != 1 {
		t.Errorf("c2: GET /api/v1/pools/dyn/endpoints: %s is %+v (listed %v), want weight 1, dynamic", keep[0], e, ok)
	}
	// The autoscaler gone, the rest expire too (and the nodes are idle for what follows).
	stoppedAt := time.Now()
	if ok, last := eventually(ttl+25*time.Second, 200*time.Millisecond, exactly("dyn", nil)); !ok {
		t.Errorf("the autoscaler stopped %v ago (ttl %v): %s", time.Since(stoppedAt).Round(time.Millisecond), ttl, last)
	} else {
		t.Logf("the autoscaler stopped: pool dyn empty on both nodes %v later (ttl %v)", time.Since(stoppedAt).Round(time.Millisecond), ttl)
	}

	// Deregistration: drained at once, gone after drain_timeout (1s).
	for _, a := range []string{"127.0.6.1", "127.0.6.2"} {
		n2.mustCall(t, http.StatusOK, http.MethodPost, "/api/v1/pools/solo/endpoints", map[string]any{"address": a})
	}
	soloAnswers := func(want ...string) func() (bool, string) {
		return func() (bool, string) {
			for _, n := range nodes {
				got, err := n.answerA("solo.example.test")
				if err != nil {
					return false, err.Error()
				}
				if !slices.Equal(got, want) {
					return false, fmt.Sprintf("%s answers solo %v, want %v", n.name, got, want)
				}
			}
			return true, ""
		}
	}
	if ok, last := eventually(5*time.Second, 50*time.Millisecond, soloAnswers("127.0.6.1", "127.0.6.2")); !ok {
		t.Fatalf("registered 127.0.6.1 and 127.0.6.2 in solo via c2: %s", last)
	}
	asked := time.Now()
	code, b, err := n1.call(http.MethodDelete, "/api/v1/pools/solo/endpoints/127.0.6.1", nil)
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("DELETE /api/v1/pools/solo/endpoints/127.0.6.1: %d %s %v, want 202", code, b, err)
	}
	var dr struct {
		DrainingUntil time.Time `json:"draining_until"`
	}
	if err := json.Unmarshal([]byte(b), &dr); err != nil || dr.DrainingUntil.IsZero() {
		t.Errorf("DELETE .../solo/endpoints/127.0.6.1: body %s (%v), want {\"draining_until\": RFC 3339}", b, err)
		dr.DrainingUntil = asked.Add(time.Second)
	} else if d := dr.DrainingUntil.Sub(asked); d < 500*time.Millisecond || d > 3*time.Second {
		t.Errorf("draining_until is %v after the request, want about drain_timeout (1s)", d)
	}
	if ok, last := eventually(time.Second, 20*time.Millisecond, soloAnswers("127.0.6.2")); !ok {
		t.Errorf("deregistered 127.0.6.1: not drained from the answers at once: %s", last)
	}
	if ok, last := eventually(time.Until(dr.DrainingUntil)+3*time.Second, 50*time.Millisecond, exactly("solo", []string{"127.0.6.2"})); !ok {
		t.Errorf("deregistered 127.0.6.1, draining until %s: still there 3s later: %s", dr.DrainingUntil.Format(time.RFC3339Nano), last)
	} else if early := dr.DrainingUntil.Sub(time.Now()); early > 500*time.Millisecond {
		t.Errorf("deregistered 127.0.6.1 was removed %v before its drain_timeout ended", early)
	}
	for _, n := range nodes {
		if m, err := listed(n, "solo"); err != nil {
			t.Error(err)
		} else if _, ok := m["127.0.6.1"]; ok || len(m) != 1 {
			t.Errorf("%s: GET /api/v1/pools/solo/endpoints after the drain: %v, want 127.0.6.2 alone", n.name, m)
		}
	}

	// min_healthy = 2: deregistering one of two is refused unless forced (the CLI, then the API).
	ops := t.TempDir()
	token := writeToken(t, ops)
	cli := func(args ...string) (string, int) {
		t.Helper()
		stdout, stderr, code := runCLI(t, ops, append([]string{args[0], "-api", n1.api, "-token-file", token}, args[1:]...)...)
		return stdout + stderr, code
	}
	if out, code := cli("register", "-weight", "2", "pair", "127.0.7.1"); code != 0 {
		t.Fatalf("meridian register -weight 2 pair 127.0.7.1: exit %d\n%s", code, out)
	}
	if out, code := cli("register", "pair", "127.0.7.2"); code != 0 {
		t.Fatalf("meridian register pair 127.0.7.2: exit %d\n%s", code, out)
	}
	if ok, last := eventually(5*time.Second, 50*time.Millisecond, func() (bool, string) {
		m, err := listed(n2, "pair")
		if err != nil {
			return false, err.Error()
		}
		return m["127.0.7.1"] == poolEndpoint{"127.0.7.1", 2, true} && m["127.0.7.2"] == poolEndpoint{"127.0.7.2", 1, true},
			fmt.Sprintf("c2: GET /api/v1/pools/pair/endpoints: %v", m)
	}); !ok {
		t.Fatalf("registered 127.0.7.1 (weight 2) and 127.0.7.2 in pair via the CLI: %s", last)
	}
	if out, code := cli("deregister", "pair", "127.0.7.1"); code == 0 || !strings.Contains(out, "409") {
		t.Errorf("meridian deregister pair 127.0.7.1 (min_healthy 2 of 2): exit %d\n%s\nwant non-zero with 409", code, out)
	}
	if code, b, err := n2.call(http.MethodDelete, "/api/v1/pools/pair/endpoints/127.0.7.1", nil); err != nil || code != http.StatusConflict {
		t.Errorf("DELETE /api/v1/pools/pair/endpoints/127.0.7.1 (min_healthy 2 of 2): %d %s %v, want 409", code, b, err)
	}
	if m, err := listed(n1, "pair"); err != nil || len(m) != 2 {
		t.Errorf("after the refused deregistrations, pair lists %v (%v), want both", m, err)
	}
	if out, code := cli("deregister", "-force", "pair", "127.0.7.1"); code != 0 {
		t.Errorf("meridian deregister -force pair 127.0.7.1: exit %d\n%s", code, out)
	}
	if ok, last := eventually(5*time.Second, 100*time.Millisecond, func() (bool, string) {
		for _, n := range nodes {
			m, err := listed(n, "pair")
			if err != nil {
				return false, err.Error()
			}
			if _, ok := m["127.0.7.1"]; ok || len(m) != 1 {
				return false, fmt.Sprintf("%s: pair lists %v", n.name, m)
			}
		}
		return true, ""
	}); !ok {
		t.Errorf("forced deregistration of 127.0.7.1 (drain_timeout 1s): %s", last)
	}

	// A configured endpoint is not deregistered; unknown ones are 404.
	if code, b, err := n1.call(http.MethodDelete, "/api/v1/pools/fixed/endpoints/127.0.8.1", nil); err != nil || code != http.StatusConflict {
		t.Errorf("DELETE of a configured endpoint (fixed/127.0.8.1): %d %s %v, want 409", code, b, err)
	}
	for _, path := range []string{"/api/v1/pools/fixed/endpoints/127.0.9.9", "/api/v1/pools/nope/endpoints/127.0.9.9"} {
		if code, b, err := n1.call(http.MethodDelete, path, nil); err != nil || code != http.StatusNotFound {
			t.Errorf("DELETE %s: %d %s %v, want 404", path, code, b, err)
		}
	}
	if got, err := n2.answerA("fixed.example.test"); err != nil || !slices.Equal(got, []string{"127.0.8.1", "127.0.8.2"}) {
		t.Errorf("c2 answers fixed %v (%v), want both configured endpoints", got, err)
	}
}

// TestClusterConfigPush: `meridian config push` validates the file where it runs (a bad file:
// file:line:col on stderr, nothing pushed), then posts it; every node serves a pushed revision
// with its own [server] and [cluster] and the revision as the SOA serial. A file that one node
// rejects (latency.csv, resolved beside each node's config, is missing on node 3) is served by
// the others while node 3 keeps the previous revision, and GET /api/v1/cluster says so.
func TestClusterConfigPush(t *testing.T) {
	ec := startEtcd(t, 3)
	const latency = "client,region,rtt_ms\n127.0.0.0/24,r,1\n"
	nodes := startClusterNodes(t, ec, 3, "cluster-push.toml.tmpl", func(i int, dir string, v *clusterVars) {
		v.Marker = "local"
		if i < 2 {
			if err := os.WriteFile(filepath.Join(dir, "latency.csv"), []byte(latency), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
	waitClusterNodes(t, nodes, 15*time.Second)
	n1, n3 := nodes[0], nodes[2]
	ops := t.TempDir()
	token := writeToken(t, ops)
	if err := os.WriteFile(filepath.Join(ops, "latency.csv"), []byte(latency), 0o644); err != nil {
		t.Fatal(err)
	}
	push := func(file string) (string, string, int) {
		t.Helper()
		return runCLI(t, ops, "config", "push", "-api", n1.api, "-token-file", token, "-c", file)
	}
	revision := func() int64 {
		t.Helper()
		s, _, err := n1.cluster()
		if err != nil {
			t.Fatal(err)
		}
		return s.Revision
	}
	rev0 := revision()

	// A bad file: refused where the CLI runs, nothing pushed.
	bad := "[regions.r]\n\n[zones.\"example.test\"]\nns = [\"ns1\"]\n[[zones.\"example.test\".records]]\nname = \"ns1\"\ntype = \"A\"\ndata = \"300.1.2.3\"\n"
	if err := os.WriteFile(filepath.Join(ops, "bad.toml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if stdout, stderr, code := push("bad.toml"); code == 0 || !strings.Contains(stderr, "bad.toml:8:") {
		t.Errorf("meridian config push -c bad.toml: exit %d\nstdout:\n%s\nstderr:\n%s\nwant non-zero, bad.toml:8:col on stderr", code, stdout, stderr)
	}
	if r := revision(); r != rev0 {
		t.Errorf("after a bad file, the cluster revision is %d, want %d (nothing pushed)", r, rev0)
	}

	// servesRev says whether n serves rev with marker: GET /api/v1/cluster (on n1) shows it,
	// v.example.test says marker, and the SOA serial is rev.
	servesRev := func(n *clusterNode, rev int64, marker string) (bool, string) {
		s, body, err := n1.cluster()
		if err != nil {
			return false, err.Error()
		}
		ns, found := s.node(n.name)
		if !found || ns.Revision != rev {
			return false, fmt.Sprintf("GET /api/v1/cluster on c1: %s is not at revision %d: %s", n.name, rev, body)
		}
		txt, err := n.txt("v.example.test")
		if err != nil || txt != marker {
			return false, fmt.Sprintf("%s: v.example.test TXT %q (%v), want %q", n.name, txt, err, marker)
		}
		serial, err := n.serial("example.test")
		if err != nil || int64(serial) != rev {
			return false, fmt.Sprintf("%s: example.test SOA serial %d (%v), want the revision %d", n.name, serial, err, rev)
		}
		return true, ""
	}

	// Revision 1: every node serves it.
	renderCluster(t, ops, "cluster-push.toml.tmpl", "r1.toml", clusterVars{Marker: "r1"})
	if stdout, stderr, code := push("r1.toml"); code != 0 {
		t.Fatalf("meridian config push -c r1.toml: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	} else {
		t.Logf("meridian config push -c r1.toml:\n%s%s", stdout, stderr)
	}
	rev1 := revision()
	if rev1 <= rev0 {
		t.Fatalf("after a push, GET /api/v1/cluster revision is %d, want more than %d", rev1, rev0)
	}
	for _, n := range nodes {
		if ok, last := eventually(10*time.Second, 100*time.Millisecond, func() (bool, string) { return servesRev(n, rev1, "r1") }); !ok {
			t.Errorf("revision %d pushed: %s", rev1, last)
		}
	}
	if s, body, err := n1.cluster(); err != nil || !s.Agree {
		t.Errorf("GET /api/v1/cluster after revision %d reached every node: agree false (%v): %s", rev1, err, body)
	}

	// Node 3 rejects the latency file itself: 422, nothing pushed.
	renderCluster(t, ops, "cluster-push.toml.tmpl", "r2.toml", clusterVars{Marker: "r2", Latency: true})
	r2, err := os.ReadFile(filepath.Join(ops, "r2.toml"))
	if err != nil {
		t.Fatal(err)
	}
	code, body, err := n3.call(http.MethodPost, "/api/v1/cluster/config", string(r2), "X-Meridian-Source", "r2.toml", "Content-Type", "application/toml")
	if err != nil || code != http.StatusUnprocessableEntity || !strings.Contains(body, "latency") {
		t.Errorf("POST /api/v1/cluster/config on c3 (no latency.csv beside its config): %d %s %v, want 422 naming latency", code, body, err)
	}
	if r := revision(); r != rev1 {
		t.Errorf("after c3 refused a config, the cluster revision is %d, want %d", r, rev1)
	}

	// Revision 2, pushed through node 1: nodes 1 and 2 serve it; node 3 rejects it and keeps
	// revision 1, and the cluster view says so.
	if stdout, stderr, code := push("r2.toml"); code != 0 {
		t.Fatalf("meridian config push -c r2.toml: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	rev2 := revision()
	if rev2 <= rev1 {
		t.Fatalf("after the second push, GET /api/v1/cluster revision is %d, want more than %d", rev2, rev1)
	}
	for _, n := range nodes[:2] {
		if ok, last := eventually(10*time.Second, 100*time.Millisecond, func() (bool, string) { return servesRev(n, rev2, "r2") }); !ok {
			t.Errorf("revision %d pushed: %s", rev2, last)
		}
	}
	for _, from := range []*clusterNode{n1, n3} {
		ok, last := eventually(10*time.Second, 100*time.Millisecond, func() (bool, string) {
			s, body, err := from.cluster()
			if err != nil {
				return false, err.Error()
			}
			ns, _ := s.node("c3")
			return s.Revision == rev2 && !s.Agree && ns.Revision == rev1 && ns.RejectedRevision == rev2 && ns.Error != "" && !ns.Agrees, body
		})
		if !ok {
			t.Errorf("GET /api/v1/cluster on %s: want revision %d, agree false, c3 at revision %d with rejected_revision %d, an error and agrees false; got %s",
				from.name, rev2, rev1, rev2, compact(last))
		} else {
			t.Logf("GET /api/v1/cluster on %s: %s", from.name, compact(last))
		}
	}
	if ok, last := servesRev(n3, rev1, "r1"); !ok {
		t.Errorf("c3 after rejecting revision %d: %s", rev2, last)
	}

	// meridian cluster prints the nodes (reading needs no token, as for meridian status).
	stdout, stderr, code := runCLI(t, ops, "cluster", "-api", n1.api)
	t.Logf("meridian cluster:\n%s", stdout)
	if code != 0 {
		t.Errorf("meridian cluster -api URL: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, n := range nodes {
		if !strings.Contains(stdout, n.name) {
			t.Errorf("meridian cluster does not list %s:\n%s", n.name, stdout)
		}
	}
}
