package geo

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// TestDetectSchema covers database types geo does not know by name, which
// are told apart by the keys of their first record.
func TestDetectSchema(t *testing.T) {
	tests := []struct {
		name, kind string
		rec        mmdbtype.Map
		want       schema // 0: Open must fail
		country    string
	}{
		{"maxmind by name", "GeoLite2-City", mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("DE")}}, schemaMaxMind, "DE"},
		{"dbip.com lite is maxmind-shaped", "DBIP-Country-Lite", mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String("DE")}}, schemaMaxMind, "DE"},
		{"flat by name", "country ipv6", mmdbtype.Map{"country_code": mmdbtype.String("DE")}, schemaFlat, "DE"},
		{"asn by name", "GeoIP2-ISP", mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(64500)}, schemaASN, ""},
		{"flat by shape", "Acme-Geo", mmdbtype.Map{"country_code": mmdbtype.String("DE")}, schemaFlat, "DE"},
		{"maxmind by shape", "Acme-Geo", mmdbtype.Map{"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String("DE")}}, schemaMaxMind, ""},
		{"asn by shape", "Acme-Geo", mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(64500)}, schemaASN, ""},
		{"unknown shape", "GeoIP2-Connection-Type", mmdbtype.Map{"connection_type": mmdbtype.String("Cable/DSL")}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeRaw(t, tc.kind, tc.rec)
			d, err := Open([]string{path}, Options{})
			if tc.want == 0 {
				if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.kind) {
					t.Errorf("Open = %v, want an error naming %s and type %q", err, path, tc.kind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer d.Close()
			if got := d.cur.Load().srcs[0].schema; got != tc.want {
				t.Errorf("schema = %v, want %v", got, tc.want)
			}
			if got := d.Locate(addr("192.0.2.1")).Country; got != tc.country {
				t.Errorf("Country = %q, want %q", got, tc.country)
			}
		})
	}
}

// writeRaw writes a database of type kind with rec for 192.0.2.0/24.
func writeRaw(t *testing.T, kind string, rec mmdbtype.Map) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: kind, RecordSize: 28, IPVersion: 6, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Insert(&net.IPNet{IP: net.IPv4(192, 0, 2, 0).To4(), Mask: net.CIDRMask(24, 32)}, rec); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "raw.mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	return path
}
