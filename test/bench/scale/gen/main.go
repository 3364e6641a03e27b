// Command gen writes the scale benchmark's inputs (issue 16): a Meridian config at the design's
// scale (10,000 services over 1,000 pools of 100 endpoints, half of the pools monitored), a
// one-service config of the same shape for the qps comparison, and dnsperf query files (the -B
// binary format: a 2-byte length before each packet) over every service and over the one.
//
//	go run ./test/bench/scale/gen -o DIR [-services 10000] [-pools 1000] [-endpoints 100000] ...
//
// Every monitored endpoint has a 127.0.0.0/8 address and is probed on loopback only: most at
// one of the -backends ports on 127.0.0.1 (given as their `probe` address; run.sh starts the
// backends), the pools picked by -down-pools at their own address on -closed-port, where nothing
// listens, so they go down and their services fail over. Unmonitored endpoints are in
// 198.18.0.0/15 (RFC 2544's benchmarking range) and are never probed. The output is
// deterministic for a given -seed.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"
)

// region is one place with its coordinates and the geography it serves.
type region struct {
	name       string
	lat, lon   float64
	continents []string
	countries  []string
}

var regions = []region{
	{"na-east", 38.9, -77.4, []string{"NA"}, nil},
	{"na-west", 37.4, -122.1, nil, []string{"CA", "MX"}},
	{"sa", -23.5, -46.6, []string{"SA"}, nil},
	{"eu-west", 53.3, -6.3, nil, []string{"GB", "IE", "FR", "ES", "PT"}},
	{"eu-central", 50.1, 8.7, []string{"EU"}, nil},
	{"af", -26.2, 28.0, []string{"AF"}, nil},
	{"ap", 1.35, 103.8, []string{"AS"}, nil},
	{"oc", -33.9, 151.2, []string{"OC"}, nil},
}

// ecsSeeds are public /24s grouped by continent (the reference harness's gen-queries.py list):
// the client subnets of the ECS queries, and the [geo.nets] fallback when there is no database.
var ecsSeeds = map[string][]string{
	"na-east":    {"8.8.8", "4.2.2", "12.0.0", "24.0.0", "63.0.0", "64.233.160", "66.0.0", "72.0.0", "98.0.0", "208.67.222"},
	"eu-central": {"81.2.69", "2.16.0", "5.0.0", "31.0.0", "46.0.0", "62.0.0", "77.0.0", "85.0.0", "91.0.0", "193.0.0"},
	"ap":         {"1.0.16", "1.1.1", "14.0.0", "27.0.0", "36.0.0", "49.0.0", "58.0.0", "101.0.0", "110.0.0", "203.0.0"},
	"sa":         {"177.0.0", "179.0.0", "181.0.0", "186.0.0", "200.0.0"},
	"af":         {"41.0.0", "102.0.0", "105.0.0", "154.0.0", "196.0.0"},
}

// policies is the mix, by service index mod 10: 40% geo, 20% failover, 20% weighted, 10%
// proximity, 5% hash, 5% random.
var policies = []string{"geo", "geo", "geo", "geo", "failover", "failover", "weighted", "weighted", "proximity", "hash"}

type options struct {
	out                        string
	services, pools, endpoints int
	zones                      int
	monitored                  float64
	downPools                  float64
	interval                   string
	backendBase, backends      int
	closedPort                 int
	dnsAddr, httpAddr          string
	oneDNSAddr, oneHTTPAddr    string
	geoDB                      string
	perService, oneQueries     int
	ecs                        float64
	seed                       uint64
	compact                    bool
}

func main() {
	var o options
	flag.StringVar(&o.out, "o", "", "output directory (required)")
	flag.IntVar(&o.services, "services", 10000, "load-balanced names")
	flag.IntVar(&o.pools, "pools", 1000, "pools")
	flag.IntVar(&o.endpoints, "endpoints", 100000, "endpoints in all (an equal share per pool)")
	flag.IntVar(&o.zones, "zones", 10, "zones the services are spread over (z0.scale.test, ...)")
	flag.Float64Var(&o.monitored, "monitored", 0.5, "fraction of the pools with a monitor")
	flag.Float64Var(&o.downPools, "down-pools", 0.02, "fraction of the monitored pools probed where nothing listens (they go down)")
	flag.StringVar(&o.interval, "interval", "10s", "monitor interval")
	flag.IntVar(&o.backendBase, "backend-port", 19101, "first loopback backend port (127.0.0.1)")
	flag.IntVar(&o.backends, "backends", 16, "loopback backend ports, from -backend-port")
	flag.IntVar(&o.closedPort, "closed-port", 19099, "port of the monitors where nothing listens")
	flag.StringVar(&o.dnsAddr, "dns", "127.0.0.1:5410", "DNS address of the scale config")
	flag.StringVar(&o.httpAddr, "http", "127.0.0.1:8410", "HTTP address of the scale config")
	flag.StringVar(&o.oneDNSAddr, "one-dns", "127.0.0.1:5411", "DNS address of the one-service config")
	flag.StringVar(&o.oneHTTPAddr, "one-http", "127.0.0.1:8411", "HTTP address of the one-service config")
	flag.StringVar(&o.geoDB, "geo-db", "", "GeoLite2-City.mmdb (absolute path); none: [geo.nets] only")
	flag.IntVar(&o.perService, "per-service", 2, "queries per service in queries-all.bin")
	flag.IntVar(&o.oneQueries, "one-queries", 20000, "queries in queries-one.bin")
	flag.Float64Var(&o.ecs, "ecs", 0.5, "fraction of the queries with an ECS option")
	flag.Uint64Var(&o.seed, "seed", 16, "random seed")
	flag.BoolVar(&o.compact, "compact", false, "one line per pool (its endpoints inline) and per service (an inline table): the same config in ~15k instead of ~180k lines")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	switch {
	case o.out == "":
		return fmt.Errorf("-o is required")
	case o.services < 1 || o.pools < 3 || o.endpoints < o.pools || o.zones < 1 || o.backends < 1:
		return fmt.Errorf("want -services >= 1, -pools >= 3, -endpoints >= -pools, -zones >= 1, -backends >= 1")
	case o.endpoints > 131072:
		return fmt.Errorf("-endpoints is at most 131072 (the unmonitored ones are in 198.18.0.0/15)")
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	g := newGen(o)
	if err := g.writeConfig(filepath.Join(o.out, "scale.toml"), false); err != nil {
		return err
	}
	if err := g.writeConfig(filepath.Join(o.out, "one.toml"), true); err != nil {
		return err
	}
	rnd := rand.New(rand.NewPCG(o.seed, 2))
	var all []query
	for i := range o.services {
		for range o.perService {
			all = append(all, g.query(rnd, i))
		}
	}
	rnd.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	if err := writeQueries(filepath.Join(o.out, "queries-all.bin"), all); err != nil {
		return err
	}
	one := make([]query, o.oneQueries)
	for i := range one {
		one[i] = g.query(rnd, 0)
	}
	if err := writeQueries(filepath.Join(o.out, "queries-one.bin"), one); err != nil {
		return err
	}
	// names.txt: one name per policy, for run.sh's readiness poll and spot checks
	var names strings.Builder
	for i := 0; i < min(o.services, len(policies)); i++ {
		fmt.Fprintf(&names, "%s %s\n", g.fqdn(i), policies[i%len(policies)])
	}
	if err := os.WriteFile(filepath.Join(o.out, "names.txt"), []byte(names.String()), 0o644); err != nil {
		return err
	}
	fmt.Printf("services=%d pools=%d endpoints=%d monitored_pools=%d monitored_endpoints=%d down_pools=%d zones=%d queries_all=%d queries_one=%d\n",
		o.services, o.pools, g.perPool*o.pools, g.nMonitored, g.nMonitored*g.perPool, g.nDown, o.zones, len(all), len(one))
	return nil
}

type gen struct {
	o          options
	perPool    int
	nMonitored int
	nDown      int
}

func newGen(o options) *gen {
	g := &gen{o: o, perPool: o.endpoints / o.pools}
	for p := range o.pools {
		if g.monitored(p) {
			g.nMonitored++
			if g.down(p) {
				g.nDown++
			}
		}
	}
	return g
}

// monitored: the pools spread evenly (every other one at 0.5), so every region has both kinds.
func (g *gen) monitored(p int) bool {
	if p == 0 {
		return g.o.monitored > 0
	}
	return int(float64(p)*g.o.monitored) > int(float64(p-1)*g.o.monitored)
}

// monIndex numbers the monitored pools 0, 1, 2, ...
func (g *gen) monIndex(p int) int { return int(float64(p) * g.o.monitored) }

// down: a few monitored pools, spread out, probe where nothing listens; never p0000, the
// one-service config's first pool.
func (g *gen) down(p int) bool {
	return g.o.downPools > 0 && p > 0 && g.monIndex(p)%int(1/g.o.downPools+0.5) == 1
}

func (g *gen) poolName(p int) string { return fmt.Sprintf("p%04d", p) }
func (g *gen) zone(i int) string     { return fmt.Sprintf("z%d.scale.test", i%g.o.zones) }
func (g *gen) svcName(i int) string  { return fmt.Sprintf("svc%05d", i) }
func (g *gen) fqdn(i int) string     { return g.svcName(i) + "." + g.zone(i) + "." }

// servicePools: 2 or 3 consecutive pools, so each service spans 2–3 regions.
func (g *gen) servicePools(i int) []int {
	n := 2 + i%2
	if policies[i%len(policies)] == "geo" || policies[i%len(policies)] == "proximity" {
		n = 3
	}
	base := (i * 7) % g.o.pools // spread the services over every pool
	ps := make([]int, n)
	for k := range ps {
		ps[k] = (base + k) % g.o.pools
	}
	return ps
}

// endpoint returns the address of endpoint e of pool p, and its probe address ("" none).
func (g *gen) endpoint(p, e int) (string, string) {
	n := p*g.perPool + e
	if !g.monitored(p) {
		return fmt.Sprintf("198.%d.%d.%d", 18+n>>16, (n>>8)&255, n&255), ""
	}
	m := n + 65536 // 127.1.0.0 and up
	addr := fmt.Sprintf("127.%d.%d.%d", m>>16, (m>>8)&255, m&255)
	if g.down(p) {
		return addr, ""
	}
	return addr, fmt.Sprintf("127.0.0.1:%d", g.o.backendBase+n%g.o.backends)
}

func (g *gen) writeConfig(path string, one bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	dnsAddr, httpAddr, data := g.o.dnsAddr, g.o.httpAddr, "data"
	if one {
		dnsAddr, httpAddr, data = g.o.oneDNSAddr, g.o.oneHTTPAddr, "data-one"
	}
	fmt.Fprintf(w, "# Generated by test/bench/scale/gen (seed %d); do not edit.\n", g.o.seed)
	fmt.Fprintf(w, "[server]\nnode = \"scale\"\ndns = [%q]\nhttp = %q\ndata_dir = %q\n", dnsAddr, httpAddr, data)
	fmt.Fprintf(w, "peer_secret_file = \"peer.secret\"\ntoken_file = \"api.token\"\n\n")
	fmt.Fprintf(w, "[geo]\n")
	if g.o.geoDB != "" {
		fmt.Fprintf(w, "databases = [%q]\n", g.o.geoDB)
	}
	fmt.Fprintf(w, "\n[geo.nets]\n")
	for _, r := range regions {
		for _, s := range ecsSeeds[r.name] {
			if g.o.geoDB == "" || r.name == "sa" { // with a database, a few overrides only
				fmt.Fprintf(w, "%q = %q\n", s+".0/24", r.name)
			}
		}
	}
	for _, r := range regions {
		fmt.Fprintf(w, "\n[regions.%s]\nlat = %g\nlon = %g\n", r.name, r.lat, r.lon)
		if len(r.continents) > 0 {
			fmt.Fprintf(w, "continents = %s\n", tomlList(r.continents))
		}
		if len(r.countries) > 0 {
			fmt.Fprintf(w, "countries = %s\n", tomlList(r.countries))
		}
	}
	fmt.Fprintf(w, "\n[monitors.tcp10]\nkind = \"tcp\"\nport = %d\ninterval = %q\nrise = 2\nfall = 3\n", g.o.closedPort, g.o.interval)
	fmt.Fprintf(w, "\n[monitors.http10]\nkind = \"http\"\npath = \"/health\"\nport = %d\ninterval = %q\nrise = 2\nfall = 3\nexpect_status = [200]\n",
		g.o.closedPort, g.o.interval)

	services := g.o.services
	pools := make([]int, 0, g.o.pools)
	if one {
		services = 1
		pools = g.servicePools(0)
	} else {
		for p := range g.o.pools {
			pools = append(pools, p)
		}
	}
	for _, p := range pools {
		fmt.Fprintf(w, "\n[pools.%s]\nregion = %q\n", g.poolName(p), regions[p%len(regions)].name)
		if g.monitored(p) {
			mon := "tcp10"
			if g.monIndex(p)%2 == 0 {
				mon = "http10"
			}
			fmt.Fprintf(w, "monitor = %q\nmin_healthy = %d\n", mon, max(1, g.perPool/4))
		}
		sep, end := "\n", "]\n"
		if g.o.compact {
			sep, end = " ", " ]\n"
		}
		fmt.Fprintf(w, "endpoints = [%s", sep)
		for e := range g.perPool {
			addr, probe := g.endpoint(p, e)
			weight := ""
			if e%10 == 0 {
				weight = ", weight = 3"
			}
			if probe != "" {
				fmt.Fprintf(w, "  { address = %q, probe = %q%s },%s", addr, probe, weight, sep)
			} else {
				fmt.Fprintf(w, "  { address = %q%s },%s", addr, weight, sep)
			}
		}
		fmt.Fprint(w, end)
	}
	for z := range min(g.o.zones, services) {
		zone := g.zone(z)
		fmt.Fprintf(w, "\n[zones.%q]\nttl = \"5m\"\nns = [\"ns1\"]\n", zone)
		fmt.Fprintf(w, "[[zones.%q.records]]\nname = \"ns1\"\ntype = \"A\"\ndata = \"127.0.0.1\"\n", zone)
	}
	for z := range min(g.o.zones, services) { // grouped by zone: -compact writes one services table per zone
		for i := z; i < services; i += g.o.zones {
			g.writeService(w, i)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeService writes service i: a table, or with -compact one line of an inline table in
// its zone's services table (the caller writes each zone's services together).
func (g *gen) writeService(w *bufio.Writer, i int) {
	pol := policies[i%len(policies)]
	if pol == "hash" && i%20 == 19 {
		pol = "random"
	}
	var pools []string
	for _, p := range g.servicePools(i) {
		pools = append(pools, g.poolName(p))
	}
	kv := []string{fmt.Sprintf("policy = %q", pol), "pools = " + tomlList(pools), `ttl = "30s"`, `degraded_ttl = "5s"`,
		fmt.Sprintf("answers = %d", 1+i%2)}
	if i%3 == 0 {
		kv = append(kv, `on_all_down = "fallback"`, fmt.Sprintf("fallback = %q", pools[len(pools)-1]))
	}
	if g.o.compact {
		if i < g.o.zones { // the first service of each zone opens its services table
			fmt.Fprintf(w, "\n[zones.%q.services]\n", g.zone(i))
		}
		fmt.Fprintf(w, "%s = { %s }\n", g.svcName(i), strings.Join(kv, ", "))
		return
	}
	fmt.Fprintf(w, "\n[zones.%q.services.%s]\n%s\n", g.zone(i), g.svcName(i), strings.Join(kv, "\n"))
}

func tomlList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

type query []byte

// query is an A query for service i, with an ECS /24 from ecsSeeds for a fraction -ecs.
func (g *gen) query(rnd *rand.Rand, i int) query {
	m := new(dns.Msg)
	m.SetQuestion(g.fqdn(i), dns.TypeA)
	m.RecursionDesired = false
	if rnd.Float64() < g.o.ecs {
		keys := []string{"na-east", "eu-central", "ap", "sa", "af"}
		seeds := ecsSeeds[keys[rnd.IntN(len(keys))]]
		p := netip.MustParsePrefix(seeds[rnd.IntN(len(seeds))] + ".0/24")
		a := p.Addr().As4()
		if a[2] == 0 {
			a[2] = byte(rnd.IntN(64)) // many distinct /24s, as the reference harness does
		}
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.SetUDPSize(1232)
		opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1,
			SourceNetmask: 24, Address: netip.AddrFrom4(a).AsSlice()})
		m.Extra = append(m.Extra, opt)
	}
	b, err := m.Pack()
	if err != nil {
		panic(err) // a fixed, valid message
	}
	return b
}

func writeQueries(path string, qs []query) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, q := range qs {
		var l [2]byte
		binary.BigEndian.PutUint16(l[:], uint16(len(q)))
		w.Write(l[:])
		w.Write(q)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
