package geo

import (
	"fmt"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// schema is the shape of a database's records.
type schema int

const (
	// schemaMaxMind: GeoIP2/GeoLite2 City, Country and Enterprise, and the
	// MaxMind-compatible DBIP-*-Lite files that db-ip.com publishes.
	schemaMaxMind schema = iota + 1
	// schemaASN: GeoLite2-ASN, GeoIP2-ISP and the like.
	schemaASN
	// schemaFlat: ip-location-db's flat records (country_code, latitude, …),
	// as in the DB-IP Lite npm packages.
	schemaFlat
)

func (s schema) String() string {
	switch s {
	case schemaMaxMind:
		return "maxmind"
	case schemaASN:
		return "asn"
	case schemaFlat:
		return "flat"
	}
	return fmt.Sprintf("schema(%d)", int(s))
}

// record is what one database says about an address, already normalised:
// continent derived from the country where the record has none, subdivision
// as "CC-SUB".
type record struct {
	continent, country, subdivision string
	lat, lon                        float64
	hasCoords                       bool
	asn                             uint32
}

// maxmindRecord is the part of a GeoIP2 City/Country/Enterprise record geo uses.
type maxmindRecord struct {
	Continent struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"continent"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	Subdivisions []struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"subdivisions"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
	Traits struct {
		ASN uint32 `maxminddb:"autonomous_system_number"` // Enterprise only
	} `maxminddb:"traits"`
}

type asnRecord struct {
	ASN uint32 `maxminddb:"autonomous_system_number"`
}

// flatRecord is the part of an ip-location-db record geo uses. Its state1 is
// a subdivision name ("California", "England"), not an ISO 3166-2 code, and
// there is no reliable table from those names to codes, so Subdivision stays
// empty for these databases.
type flatRecord struct {
	CountryCode string   `maxminddb:"country_code"`
	Latitude    *float64 `maxminddb:"latitude"`
	Longitude   *float64 `maxminddb:"longitude"`
}

// decode reads the record of a lookup or network walk result.
func (s schema) decode(res maxminddb.Result) (record, error) {
	var r record
	switch s {
	case schemaMaxMind:
		var m maxmindRecord
		if err := res.Decode(&m); err != nil {
			return r, err
		}
		r.continent, r.country, r.asn = m.Continent.Code, m.Country.ISOCode, m.Traits.ASN
		if len(m.Subdivisions) > 0 && m.Subdivisions[0].ISOCode != "" && r.country != "" {
			r.subdivision = r.country + "-" + m.Subdivisions[0].ISOCode
		}
		if m.Location.Latitude != nil && m.Location.Longitude != nil {
			r.lat, r.lon, r.hasCoords = *m.Location.Latitude, *m.Location.Longitude, true
		}
	case schemaASN:
		var a asnRecord
		if err := res.Decode(&a); err != nil {
			return r, err
		}
		r.asn = a.ASN
	case schemaFlat:
		var f flatRecord
		if err := res.Decode(&f); err != nil {
			return r, err
		}
		r.country = f.CountryCode
		if f.Latitude != nil && f.Longitude != nil {
			r.lat, r.lon, r.hasCoords = *f.Latitude, *f.Longitude, true
		}
	default:
		return r, fmt.Errorf("unknown %v", s)
	}
	if r.continent == "" {
		r.continent = continentOf(r.country)
	}
	return r, nil
}

// detectSchema tells the record shape from the database type in the metadata
// and, for a type it does not know, from the keys of the first record.
//
// Types seen in real files: "GeoLite2-City", "GeoLite2-Country",
// "GeoLite2-ASN", "GeoIP2-City"… (MaxMind) and "country ipvAll",
// "country ipv4", "city ipv4", "city ipv6" (ip-location-db's DB-IP Lite).
func detectSchema(r *maxminddb.Reader) (schema, error) {
	t := strings.ToLower(r.Metadata.DatabaseType)
	switch {
	case strings.HasPrefix(t, "city ") || strings.HasPrefix(t, "country "):
		return schemaFlat, nil
	case strings.Contains(t, "asn") || strings.Contains(t, "isp"):
		return schemaASN, nil
	case strings.Contains(t, "city") || strings.Contains(t, "country") || strings.Contains(t, "enterprise"):
		return schemaMaxMind, nil
	}
	for res := range r.Networks() {
		var keys map[string]any
		if err := res.Decode(&keys); err != nil {
			return 0, fmt.Errorf("database type %q: read first record: %w", r.Metadata.DatabaseType, err)
		}
		if s := schemaOfKeys(keys); s != 0 {
			return s, nil
		}
		break
	}
	return 0, fmt.Errorf("database type %q: records are neither GeoIP2, ASN nor ip-location-db shaped", r.Metadata.DatabaseType)
}

func schemaOfKeys(keys map[string]any) schema {
	has := func(k string) bool { _, ok := keys[k]; return ok }
	switch {
	case has("country_code"):
		return schemaFlat
	case has("continent") || has("country") || has("registered_country") || has("location"):
		return schemaMaxMind
	case has("autonomous_system_number"):
		return schemaASN
	}
	return 0
}
