package policy

import (
	"fmt"
	"math"
	"net/netip"
	"testing"
	"time"
)

func TestDistanceKm(t *testing.T) {
	tests := []struct {
		name   string
		a, b   *Region
		wantKm float64
		within float64
	}{
		{"frankfurt to ashburn", euRegion(), naRegion(), 6556, 1},
		{"frankfurt to singapore", euRegion(), apRegion(), 10256, 1},
		{"singapore to ashburn", apRegion(), naRegion(), 15538, 1},
		{"same place", euRegion(), euRegion(), 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := regionKm(tc.a, tc.b); math.Abs(got-tc.wantKm) > tc.within {
				t.Errorf("got %.1f km, want %.0f±%.0f", got, tc.wantKm, tc.within)
			}
		})
	}
}

func TestOrderGeo(t *testing.T) {
	// From eu: na 6556 km, ap 10256 km. From ap: eu 10256 km, na 15538 km. From na: eu, then ap.
	tests := []struct {
		name   string
		pools  []string // configured order, of na, eu, ap
		client Client
		want   string
	}{
		{"EU client", []string{"na", "eu", "ap"}, located("EU", "FR", "", 0, 0), "[[eu] [na] [ap]]"},
		{"AF client via continent of eu", []string{"na", "eu", "ap"}, located("AF", "NG", "", 0, 0), "[[eu] [na] [ap]]"},
		{"AS client", []string{"na", "eu", "ap"}, located("AS", "JP", "", 0, 0), "[[ap] [eu] [na]]"},
		{"OC client: distance from the matched region ap, not the client", []string{"na", "eu", "ap"}, located("OC", "AU", "", -33.87, 151.2), "[[ap] [eu] [na]]"},
		{"NA client", []string{"ap", "eu", "na"}, located("NA", "MX", "", 0, 0), "[[na] [eu] [ap]]"},
		{"SA client via continent of na", []string{"eu", "ap", "na"}, located("SA", "BR", "", 0, 0), "[[na] [eu] [ap]]"},
		{"unmatched keeps configured order", []string{"ap", "na", "eu"}, located("AN", "AQ", "", 0, 0), "[[ap] [na] [eu]]"},
		{"unlocated keeps configured order", []string{"eu", "ap", "na"}, Client{Loc: Location{Continent: "NA"}}, "[[eu] [ap] [na]]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			na, eu, ap := world()
			byName := map[string]*Pool{"na": na, "eu": eu, "ap": ap}
			svc := newService(Geo, Weighted)
			for _, n := range tc.pools {
				svc.Pools = append(svc.Pools, byName[n])
			}
			got := fmt.Sprint(tiers(t, Request{Service: svc, Client: tc.client, Family: 4}))
			if got != tc.want {
				t.Errorf("got tiers %s, want %s", got, tc.want)
			}
		})
	}
}

func TestOrderGeoSpecificity(t *testing.T) {
	sub := newPool("berlin", &Region{Name: "berlin", Lat: 52.5, Lon: 13.4, HasCoords: true, Subdivisions: []string{"DE-BE"}}, "127.0.4.1")
	country := newPool("de", &Region{Name: "de", Lat: 50.1, Lon: 8.7, HasCoords: true, Countries: []string{"DE"}}, "127.0.5.1")
	country2 := newPool("de2", &Region{Name: "de2", Countries: []string{"DE", "AT"}}, "127.0.5.2")
	cont := newPool("eu", &Region{Name: "eu", Lat: 48.9, Lon: 2.35, HasCoords: true, Continents: []string{"EU"}}, "127.0.6.1")
	pools := []*Pool{cont, country2, country, sub}
	tests := []struct {
		name   string
		client Client
		want   string
	}{
		{"subdivision beats country and continent", located("EU", "DE", "DE-BE", 0, 0), "[[berlin] [de] [eu] [de2]]"},
		{"country beats continent, both countries share", located("EU", "DE", "DE-HH", 0, 0), "[[de2 de] [eu] [berlin]]"},
		{"continent", located("EU", "FR", "FR-IDF", 0, 0), "[[eu] [de] [berlin] [de2]]"},
		{"nothing", located("NA", "US", "US-CA", 0, 0), "[[eu] [de2] [de] [berlin]]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := newService(Geo, Weighted, pools...)
			got := fmt.Sprint(tiers(t, Request{Service: svc, Client: tc.client, Family: 4}))
			if got != tc.want {
				t.Errorf("got tiers %s, want %s", got, tc.want)
			}
		})
	}
}

func TestOrderProximity(t *testing.T) {
	// Mid-Atlantic (45,-35): eu 3280 km, na 3530 km. Brussels: ams 173 km, eu 319 km.
	mid := located("", "", "", 45, -35)
	brussels := located("EU", "BE", "", 50.85, 4.35)
	ams := newPool("ams", &Region{Name: "ams", Lat: 52.37, Lon: 4.9, HasCoords: true}, "127.0.7.1")
	nowhere := newPool("x", &Region{Name: "x"}, "127.0.8.1")
	tests := []struct {
		name      string
		client    Client
		tolerance float64
		biasNA    float64
		biasEU    float64
		extra     []*Pool
		want      string
	}{
		{"nearest first", mid, 0, 0, 0, nil, "[[eu] [na] [ap]]"},
		{"bias on na moves the boundary", mid, 0, 20, 0, nil, "[[na] [eu] [ap]]"},
		{"negative bias on eu moves it too", mid, 0, 0, -20, nil, "[[na] [eu] [ap]]"},
		{"small bias within tolerance shares the tier", mid, 0, 10, 0, nil, "[[na eu] [ap]]"},
		{"default tolerance separates 173 and 319 km", brussels, 0, 0, 0, []*Pool{ams}, "[[ams] [eu] [na] [ap]]"},
		{"tolerance 1 shares them, and na with ap (6.2k, 10.5k km)", brussels, 1, 0, 0, []*Pool{ams}, "[[ams eu] [na ap]]"},
		{"regions without coordinates last", brussels, 0, 0, 0, []*Pool{nowhere}, "[[eu] [na] [ap] [x]]"},
		{"client without coordinates: configured order", located("EU", "BE", "", 0, 0), 0, 0, 0, []*Pool{ams}, "[[ams] [na] [eu] [ap]]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			na, eu, ap := world()
			na.Region.Bias, eu.Region.Bias = tc.biasNA, tc.biasEU
			svc := newService(Proximity, Weighted, append(append([]*Pool{}, tc.extra...), na, eu, ap)...)
			svc.Tolerance = tc.tolerance
			got := fmt.Sprint(tiers(t, Request{Service: svc, Client: tc.client, Family: 4}))
			if got != tc.want {
				t.Errorf("got tiers %s, want %s", got, tc.want)
			}
		})
	}
}

func TestOrderLatency(t *testing.T) {
	brussels := located("EU", "BE", "", 50.85, 4.35)
	tests := []struct {
		name    string
		latency LatencySource
		client  Client
		want    string
	}{
		{"by rtt", rttMap{"na": 80 * time.Millisecond, "eu": 10 * time.Millisecond, "ap": 200 * time.Millisecond}, brussels, "[[eu] [na] [ap]]"},
		{"within tolerance share", rttMap{"na": 10400 * time.Microsecond, "eu": 10 * time.Millisecond, "ap": 200 * time.Millisecond}, brussels, "[[eu na] [ap]]"},
		{"measured first, the rest by proximity", rttMap{"ap": 150 * time.Millisecond}, brussels, "[[ap] [eu] [na]]"},
		{"rest in configured order without coordinates", rttMap{"ap": 150 * time.Millisecond}, located("EU", "BE", "", 0, 0), "[[ap] [na] [eu]]"},
		{"no source: proximity", nil, brussels, "[[eu] [na] [ap]]"},
		{"no measurement: proximity", rttMap{"elsewhere": time.Millisecond}, brussels, "[[eu] [na] [ap]]"},
		{"no measurement, no coordinates: configured", rttMap{}, located("EU", "BE", "", 0, 0), "[[na] [eu] [ap]]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			na, eu, ap := world()
			svc := newService(Latency, Weighted, na, eu, ap)
			got := fmt.Sprint(tiers(t, Request{Service: svc, Client: tc.client, Family: 4, Latency: tc.latency}))
			if got != tc.want {
				t.Errorf("got tiers %s, want %s", got, tc.want)
			}
		})
	}
}

func TestGeoNetsOverride(t *testing.T) {
	na := &Region{Name: "na", Lat: 38.9, Lon: -77.4, HasCoords: true, Continents: []string{"NA"}}
	eu := &Region{Name: "eu", Lat: 50.1, Lon: 8.7, HasCoords: true, Continents: []string{"EU"}, Subdivisions: []string{"US-CA"}}
	svc := &Service{Order: Geo, Answers: 1, Pools: []*Pool{
		{Name: "na", Region: na, Endpoints: []Endpoint{{ID: "na/1", Addr: netip.MustParseAddr("192.0.2.1"), Weight: 1, Enabled: true}}},
		{Name: "eu", Region: eu, Endpoints: []Endpoint{{ID: "eu/1", Addr: netip.MustParseAddr("192.0.2.2"), Weight: 1, Enabled: true}}},
	}}
	tests := []struct {
		name string
		loc  Location
		want string
	}{
		{"subdivision match without override", Location{Continent: "NA", Country: "US", Subdivision: "US-CA"}, "192.0.2.2"},
		{"override beats the subdivision", Location{Continent: "NA", Country: "US", Subdivision: "US-CA", Region: "na"}, "192.0.2.1"},
		{"override alone locates", Location{Region: "eu"}, "192.0.2.2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(Request{Service: svc, Client: Client{Addr: netip.MustParseAddr("198.51.100.1"), Loc: tc.loc, Located: true}, Family: 4, Explain: true})
			if len(d.Addrs) != 1 || d.Addrs[0].String() != tc.want {
				t.Errorf("answer %v, want %s (steps %q)", d.Addrs, tc.want, d.Steps)
			}
		})
	}
}
