package geo

import "net/netip"

// Location is where an address is, as far as the databases know.
type Location struct {
	Continent   string  // two-letter continent code, upper case: "EU", "NA", "SA", "AS", "AF", "OC", "AN"; "" unknown
	Country     string  // ISO 3166-1 alpha-2, upper case ("DE"); "" unknown
	Subdivision string  // "CC-SUB" as in ISO 3166-2, e.g. "US-CA", "DE-BE"; "" unknown
	Lat, Lon    float64 // degrees
	HasCoords   bool
	ASN         uint32 // 0 unknown (only when an ASN database is layered)
	// Prefix is the most specific network among the database records that supplied a field, so
	// every field holds across all of it: DNS uses its Bits() as the ECS scope. Invalid (zero)
	// when no database had a record.
	Prefix netip.Prefix
}

// Found reports whether the continent, the country or the coordinates are known.
func (l Location) Found() bool {
	return l.Continent != "" || l.Country != "" || l.HasCoords
}

// merge fills the fields of l that are still unknown from r, the record a
// database found for the address in network p, and narrows the Prefix to p when r
// supplied a field. A subdivision is taken only from a record that agrees on the
// country, so layering two vendors never gives country "CA" with "US-CA". It reports
// whether r supplied a field.
func (l *Location) merge(r record, p netip.Prefix) bool {
	used := false
	if l.Continent == "" && r.continent != "" {
		l.Continent, used = r.continent, true
	}
	if l.Country == "" && r.country != "" {
		l.Country, used = r.country, true
	}
	if l.Subdivision == "" && r.subdivision != "" && r.country == l.Country {
		l.Subdivision, used = r.subdivision, true
	}
	if !l.HasCoords && r.hasCoords {
		l.Lat, l.Lon, l.HasCoords, used = r.lat, r.lon, true, true
	}
	if l.ASN == 0 && r.asn != 0 {
		l.ASN, used = r.asn, true
	}
	if used && (!l.Prefix.IsValid() || p.Bits() > l.Prefix.Bits()) {
		l.Prefix = p
	}
	return used
}
