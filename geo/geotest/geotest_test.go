package geotest_test

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/meridian-gslb/meridian/geo"
	"github.com/meridian-gslb/meridian/geo/geotest"
	"github.com/oschwald/maxminddb-golang/v2"
)

// TestWriters checks each writer's database type, IP version and record keys
// against what the real files have, and that geo reads the fixtures back.
func TestWriters(t *testing.T) {
	nets := []geotest.Net{
		{CIDR: "192.0.2.0/24", Continent: "EU", Country: "DE", Subdivision: "DE-BE", Lat: 52.52, Lon: 13.40, ASN: 64500},
	}
	v6 := append(nets, geotest.Net{CIDR: "2001:db8::/32", Continent: "AS", Country: "JP", ASN: 64501})
	tests := []struct {
		name    string
		write   func(testing.TB, string, []geotest.Net)
		nets    []geotest.Net
		kind    string
		version uint
		keys    []string
		wantLoc geo.Location
	}{
		{"city", geotest.WriteCity, nets, "GeoIP2-City", 6,
			[]string{"continent", "country", "subdivisions", "location"},
			geo.Location{Continent: "EU", Country: "DE", Subdivision: "DE-BE", Lat: 52.52, Lon: 13.40, HasCoords: true}},
		{"country", geotest.WriteCountry, nets, "GeoIP2-Country", 6,
			[]string{"continent", "country"},
			geo.Location{Continent: "EU", Country: "DE"}},
		{"asn", geotest.WriteASN, nets, "GeoLite2-ASN", 6,
			[]string{"autonomous_system_number", "autonomous_system_organization"},
			geo.Location{ASN: 64500}},
		{"dbip city ipv4", geotest.WriteDBIPCity, nets, "city ipv4", 4,
			[]string{"country_code", "state1", "state2", "city", "postcode", "latitude", "longitude", "timezone"},
			geo.Location{Continent: "EU", Country: "DE", Lat: 52.52, Lon: 13.40, HasCoords: true}},
		{"dbip city ipv6", geotest.WriteDBIPCity, v6, "city ipv6", 6,
			[]string{"country_code", "state1", "state2", "city", "postcode", "latitude", "longitude", "timezone"},
			geo.Location{Continent: "EU", Country: "DE", Lat: 52.52, Lon: 13.40, HasCoords: true}},
		{"dbip country", geotest.WriteDBIPCountry, v6, "country ipvAll", 6,
			[]string{"country_code"},
			geo.Location{Continent: "EU", Country: "DE"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "db.mmdb")
			tc.write(t, path, tc.nets)

			r, err := maxminddb.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Metadata.DatabaseType != tc.kind || r.Metadata.IPVersion != tc.version {
				t.Errorf("metadata: type %q IPv%d, want %q IPv%d", r.Metadata.DatabaseType, r.Metadata.IPVersion, tc.kind, tc.version)
			}
			var rec map[string]any
			if err := r.Lookup(netip.MustParseAddr("192.0.2.1")).Decode(&rec); err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.keys {
				if _, ok := rec[k]; !ok {
					t.Errorf("record %v lacks key %q", rec, k)
				}
			}
			if len(rec) != len(tc.keys) {
				t.Errorf("record has keys %v, want exactly %v", rec, tc.keys)
			}

			d, err := geo.Open([]string{path}, geo.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			got := d.Locate(netip.MustParseAddr("192.0.2.1"))
			want := tc.wantLoc
			want.Prefix = netip.MustParsePrefix("192.0.2.0/24")
			if got != want {
				t.Errorf("Locate = %+v, want %+v", got, want)
			}
		})
	}
}

func TestWriteReplacesAtomically(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.mmdb")
	geotest.WriteCountry(t, path, []geotest.Net{{CIDR: "192.0.2.0/24", Country: "DE"}})
	geotest.WriteCountry(t, path, []geotest.Net{{CIDR: "192.0.2.0/24", Country: "FR"}})
	matches, err := filepath.Glob(filepath.Join(filepath.Dir(path), "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(matches) != 1 {
		t.Errorf("directory holds %q, want only the database (no temporary files left)", matches)
	}
}
