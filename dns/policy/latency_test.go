package policy

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeFile writes body to name in a fresh temporary directory and returns its path.
func writeFile(t testing.TB, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const latencyCSV = `client,region,rtt_ms
# measured by the proxies
81.2.0.0/16,eu,30
81.2.69.0/24,eu,12.5
81.2.69.0/24,na,95
DE,eu,18
DE,ap,160
continent:EU,eu,40
continent:EU,na,110
continent:eu,ap,170
2001:db8::/32,eu,20
2001:db8:1::/48,eu,8
`

func TestLatencyTableRTT(t *testing.T) {
	path := writeFile(t, "rtt.csv", latencyCSV)
	tab, err := LoadLatency(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := tab.Len(); got != 10 {
		t.Errorf("got %d measurements, want 10", got)
	}
	var none *LatencyTable
	if rtt, ok := none.RTT(Client{}, "eu"); ok {
		t.Errorf("got %v from a nil table, want none", rtt)
	}
	de := Location{Continent: "EU", Country: "DE"}
	fr := Location{Continent: "EU", Country: "FR"}
	tests := []struct {
		name   string
		addr   string
		loc    Location
		region string
		want   time.Duration // 0: none
	}{
		{"longest cidr", "81.2.69.7", de, "eu", 12500 * time.Microsecond},
		{"shorter cidr", "81.2.70.7", de, "eu", 30 * time.Millisecond},
		{"cidr for another region", "81.2.69.7", de, "na", 95 * time.Millisecond},
		{"country when no cidr has the region", "81.2.69.7", de, "ap", 160 * time.Millisecond},
		{"continent when the country has none", "198.51.100.1", de, "na", 110 * time.Millisecond},
		{"continent", "198.51.100.1", fr, "na", 110 * time.Millisecond},
		{"continent code read case-insensitively", "198.51.100.1", fr, "ap", 170 * time.Millisecond},
		{"mapped IPv4", "::ffff:81.2.69.7", Location{}, "eu", 12500 * time.Microsecond},
		{"ipv6 longest", "2001:db8:1::5", Location{}, "eu", 8 * time.Millisecond},
		{"ipv6 shorter", "2001:db8:2::5", Location{}, "eu", 20 * time.Millisecond},
		{"nothing known", "198.51.100.1", Location{Continent: "AS"}, "eu", 0},
		{"unknown region", "81.2.69.7", de, "sa", 0},
		{"no address, country", "", de, "eu", 18 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Client{Loc: tc.loc, Located: true}
			if tc.addr != "" {
				c.Addr = netip.MustParseAddr(tc.addr)
			}
			got, ok := tab.RTT(c, tc.region)
			if ok != (tc.want != 0) || got != tc.want {
				t.Errorf("got %v, %v; want %v, %v", got, ok, tc.want, tc.want != 0)
			}
		})
	}
}

func TestLatencyTableOrdersPools(t *testing.T) {
	tab, err := LoadLatency(writeFile(t, "rtt.csv", latencyCSV))
	if err != nil {
		t.Fatal(err)
	}
	na, eu, ap := world()
	svc := newService(Latency, Weighted, na, eu, ap)
	c := Client{Addr: netip.MustParseAddr("81.2.69.7"), Loc: Location{Continent: "EU", Country: "DE"}, Located: true}
	if got := Decide(Request{Service: svc, Client: c, Family: 4, Latency: tab}).Pools; len(got) != 1 || got[0] != "eu-web" {
		t.Errorf("got pools %v, want [eu-web]", got)
	}
}

func TestLoadLatencyErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string // each a line of the error, after the file name; body \x00: no file
	}{
		{"missing file", "\x00", []string{"open latency table"}},
		{"empty", "\n", []string{": empty, want the header client,region,rtt_ms"}},
		{"bad header", "cidr,region,ms\n", []string{`:1: header "cidr,region,ms", want client,region,rtt_ms`}},
		{"every problem with its line", "client,region,rtt_ms\n81.2.69.1/24,eu,1\nDE,eu,-3\nXYZ,eu,1\nDE,,1\ncontinent:E,eu,1\n",
			[]string{":2: client 81.2.69.1/24 has host bits set (did you mean 81.2.69.0/24?)",
				`:3: rtt_ms "-3" is not a number of milliseconds >= 0`,
				`:4: client "XYZ": want a CIDR, a two-letter country code or continent:XX`,
				":5: empty region",
				`:6: client "continent:E": want a two-letter continent code such as continent:EU`}},
		{"field count", "client,region,rtt_ms\nDE,eu\n", []string{":2: wrong number of fields"}},
		{"bad cidr", "client,region,rtt_ms\n81.2.69.0/33,eu,1\n", []string{`:2: client "81.2.69.0/33"`}},
		{"duplicate", "client,region,rtt_ms\nDE,eu,1\n# again\nde,eu,2\n", []string{":4: de to eu is already on line 2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "missing.csv")
			if tc.body != "\x00" {
				path = writeFile(t, "rtt.csv", tc.body)
			}
			_, err := LoadLatency(path)
			if err == nil {
				t.Fatalf("got no error, want %q", tc.want)
			}
			got := strings.Split(err.Error(), "\n")
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems %q, want %d", len(got), got, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], path) || !strings.Contains(got[i], w) {
					t.Errorf("got %q, want %s%s", got[i], path, w)
				}
			}
		})
	}
}
