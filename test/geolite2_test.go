package test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/geo/geotest"
)

// regionPool is the answer each region's pool gives in testdata/geolite2.toml.tmpl, sorted.
var regionPool = map[string][]string{
	"na": {"127.0.1.1", "127.0.1.2"},
	"eu": {"127.0.2.1", "127.0.2.2"},
	"ap": {"127.0.3.1", "127.0.3.2"},
}

// continentRegion is the region the config gives each continent.
var continentRegion = map[string]string{"NA": "na", "SA": "na", "EU": "eu", "AF": "eu", "AS": "ap", "OC": "ap"}

// TestGeoLite2Steering sends the real dig with EDNS Client Subnet from well-known networks on
// every inhabited continent to a node steering by the real GeoLite2 City database. Each must be
// answered by its continent's pool, with an ECS scope that is the GeoIP network's (> 0, at most
// the source prefix). The continents are facts about the addresses, checked once against the
// database build that `make test` fetches (2019-12), not computed from it.
func TestGeoLite2Steering(t *testing.T) {
	n, _ := startGSLBNode(t, "geolite2.toml.tmpl", geotest.GeoLite2(t, "GeoLite2-City.mmdb"))
	tests := []struct {
		subnet, continent, who string
	}{
		{"8.8.8.0/24", "NA", "Google Public DNS, US"},
		{"9.9.9.0/24", "NA", "Quad9, US"},
		{"208.67.222.0/24", "NA", "OpenDNS, US"},
		{"4.2.2.0/24", "NA", "Level 3 resolvers, US"},
		{"128.112.0.0/24", "NA", "Princeton University, US"},
		{"171.64.0.0/24", "NA", "Stanford University, US"},
		{"142.103.0.0/24", "NA", "University of British Columbia, CA"},
		{"132.206.0.0/24", "NA", "McGill University, CA"},
		{"2001:4860:4860::/48", "NA", "Google Public DNS IPv6, US"},

		{"200.160.2.0/24", "SA", "NIC.br, BR"},
		{"143.107.0.0/24", "SA", "Universidade de São Paulo, BR"},
		{"200.3.14.0/24", "SA", "LACNIC, UY"},
		{"146.83.0.0/24", "SA", "Universidad de Chile, CL"},
		{"157.92.0.0/24", "SA", "Universidad de Buenos Aires, AR"},
		{"190.0.0.0/24", "SA", "LACNIC 190/8, CO"},
		{"2001:13c7:7001::/48", "SA", "LACNIC IPv6, UY"},
		{"2001:12ff::/48", "SA", "NIC.br IPv6, BR"},

		{"81.2.69.0/24", "EU", "Andrews & Arnold, GB"},
		{"193.0.6.0/24", "EU", "RIPE NCC, NL"},
		{"129.132.0.0/24", "EU", "ETH Zürich, CH"},
		{"131.111.0.0/24", "EU", "University of Cambridge, GB"},
		{"130.149.0.0/24", "EU", "TU Berlin, DE"},
		{"77.88.8.0/24", "EU", "Yandex DNS, RU"},
		{"212.27.32.0/24", "EU", "Free, FR"},
		{"192.36.148.0/24", "EU", "Netnod i.root-servers.net, SE"},
		{"2001:67c:2e8::/48", "EU", "RIPE NCC IPv6 (CZ in this build)"},

		{"41.0.0.0/24", "AF", "AFRINIC 41/8, ZA"},
		{"196.216.2.0/24", "AF", "AFRINIC, ZA"},
		{"41.203.64.0/24", "AF", "Lagos, NG"},
		{"137.158.0.0/24", "AF", "University of Cape Town, ZA"},
		{"41.89.0.0/24", "AF", "KENET, KE"},
		{"41.33.0.0/24", "AF", "Cairo, EG"},
		{"197.0.0.0/24", "AF", "AFRINIC 197/8, TN"},
		{"2001:43f8::/48", "AF", "AFRINIC IPv6, TZ"},

		{"1.0.16.0/24", "AS", "APNIC 1/8, JP"},
		{"202.12.27.0/24", "AS", "WIDE m.root-servers.net, JP"},
		{"180.76.76.0/24", "AS", "Baidu DNS, CN"},
		{"114.114.114.0/24", "AS", "114DNS, CN"},
		{"101.101.101.0/24", "AS", "TWNIC Quad101, TW"},
		{"168.126.63.0/24", "AS", "KT resolvers, KR"},
		{"133.11.0.0/24", "AS", "University of Tokyo, JP"},
		{"137.132.0.0/24", "AS", "National University of Singapore, SG"},
		{"117.239.0.0/24", "AS", "BSNL, IN"},
		{"2001:200::/48", "AS", "WIDE IPv6, JP"},

		{"1.1.1.0/24", "OC", "APNIC/Cloudflare 1.1.1.0/24, AU"},
		{"203.119.101.0/24", "OC", "APNIC, AU"},
		{"139.130.4.0/24", "OC", "Telstra, AU"},
		{"130.102.0.0/24", "OC", "University of Queensland, AU"},
		{"129.78.0.0/24", "OC", "University of Sydney, AU"},
		{"130.216.0.0/24", "OC", "University of Auckland, NZ"},
		{"202.27.184.0/24", "OC", "NZ"},
		{"2001:dc0:2001::/48", "OC", "APNIC IPv6, AU"},
	}
	cmds := make([][]string, len(tests))
	for i, tc := range tests {
		cmds[i] = digArgs(n.ports.DNS, "www.example.test", "A", "+subnet="+tc.subnet)
	}
	outs := outputs(t, cmds)
	for i, tc := range tests {
		t.Run(tc.continent+" "+tc.subnet, func(t *testing.T) {
			r := parseDig(outs[i])
			region := continentRegion[tc.continent]
			if r.status != "NOERROR" {
				t.Fatalf("%s (%s): status %s, want NOERROR\n%s", tc.subnet, tc.who, r.status, r.raw)
			}
			if got, want := addrs(r.answer), regionPool[region]; !slices.Equal(got, want) {
				t.Errorf("%s (%s, %s): answer %v, want region %s's %v", tc.subnet, tc.who, tc.continent, got, region, want)
			}
			source := netip.MustParsePrefix(tc.subnet).Bits()
			if scope, ok := ecsScope(r); !ok || scope <= 0 || scope > source {
				t.Errorf("%s (%s): ECS scope %d (echoed %v), want 1..%d\n%s", tc.subnet, tc.who, scope, ok, source, r.options)
			}
		})
	}
}

// TestGeoLite2Unlocated checks the clients the database cannot place: an ECS subnet that says
// nothing about the client (private) is ignored and the resolver's own address, 127.0.0.1, is
// located instead; it is not in GeoLite2, so the configured order answers (na first). The
// answer is scoped to the query's subnet, not /0: /0 would tell the resolver that this answer
// holds for every one of its clients, public ones elsewhere included, whom ECS would have placed.
func TestGeoLite2Unlocated(t *testing.T) {
	n, _ := startGSLBNode(t, "geolite2.toml.tmpl", geotest.GeoLite2(t, "GeoLite2-City.mmdb"))
	tests := []struct {
		name   string
		args   []string
		ecs    int // the query's ECS source prefix, which the reply's scope must be; 0: no ECS
		region string
	}{
		{"private ipv4 subnet", []string{"+subnet=10.1.2.0/24"}, 24, "na"},
		{"private ipv6 subnet", []string{"+subnet=fd00:1:2::/48"}, 48, "na"},
		{"loopback subnet", []string{"+subnet=127.0.0.0/24"}, 24, "na"},
		{"no ecs from 127.0.0.1", nil, 0, "na"},
	}
	cmds := make([][]string, len(tests))
	for i, tc := range tests {
		cmds[i] = digArgs(n.ports.DNS, append([]string{"www.example.test", "A"}, tc.args...)...)
	}
	outs := outputs(t, cmds)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := parseDig(outs[i])
			if got, want := addrs(r.answer), regionPool[tc.region]; !slices.Equal(got, want) {
				t.Errorf("answer %v, want region %s's %v\n%s", got, tc.region, want, r.raw)
			}
			scope, ok := ecsScope(r)
			switch {
			case tc.ecs > 0 && (!ok || scope != tc.ecs):
				t.Errorf("ECS scope %d (echoed %v), want %d\n%s", scope, ok, tc.ecs, r.options)
			case tc.ecs == 0 && ok:
				t.Errorf("reply carries ECS %q, want none: the query had none", r.options)
			}
		})
	}
}

// TestGeoLite2ScopesAsWideAsGdnsd: with every network of GeoLite2-City classified by its pool
// order and neighbours merged, the ECS scopes are as wide as gdnsd's for the same continent
// map (gdnsd answers /14, /17 and /20 for these three), or wider where our order makes two
// continents one class (Asia and Oceania both order ap, eu, na).
func TestGeoLite2ScopesAsWideAsGdnsd(t *testing.T) {
	n, _ := startGSLBNode(t, "geolite2.toml.tmpl", geotest.GeoLite2(t, "GeoLite2-City.mmdb"))
	waitLog(t, n, "ECS scope map ready", 30*time.Second)
	tests := []struct {
		subnet      string
		want, gdnsd int
	}{
		{"8.8.8.0/24", 14, 14},
		{"81.2.69.0/24", 17, 17},
		{"1.0.16.0/24", 15, 20},
	}
	var cmds [][]string
	for _, tc := range tests {
		cmds = append(cmds, digArgs(n.ports.DNS, "www.example.test", "A", "+subnet="+tc.subnet))
	}
	for i, out := range outputs(t, cmds) {
		got, ok := ecsScope(parseDig(out))
		if !ok || got != tests[i].want {
			t.Errorf("+subnet=%s: scope %d (ok %v), want /%d (gdnsd: /%d)\n%s", tests[i].subnet, got, ok, tests[i].want, tests[i].gdnsd, out)
		}
	}
}
