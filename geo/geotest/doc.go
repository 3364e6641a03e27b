// Package geotest writes tiny .mmdb databases for tests of code that locates
// addresses with package geo: DNS policies, the handler, end-to-end tests.
// The real GeoLite2 databases are used only by the suite under test/.
//
// Each writer takes the networks to put in the database and fails the test
// (t.Fatal) if it cannot write them. Reserved ranges are allowed, so the
// documentation and private networks that tests use can be located:
//
//	func TestNearestPool(t *testing.T) {
//		path := filepath.Join(t.TempDir(), "city.mmdb")
//		geotest.WriteCity(t, path, []geotest.Net{
//			{CIDR: "192.0.2.0/24", Continent: "EU", Country: "DE", Subdivision: "DE-HE", Lat: 50.11, Lon: 8.68},
//			{CIDR: "198.51.100.0/24", Continent: "NA", Country: "US", Subdivision: "US-VA", Lat: 38.95, Lon: -77.45},
//			{CIDR: "2001:db8::/32", Continent: "OC", Country: "AU", Lat: -33.87, Lon: 151.21},
//		})
//		db, err := geo.Open([]string{path}, geo.Options{})
//		if err != nil {
//			t.Fatal(err)
//		}
//		loc := db.Locate(netip.MustParseAddr("192.0.2.53")) // DE, EU, DE-HE, 50.11/8.68, Prefix 192.0.2.0/24
//		// …
//	}
//
// Later entries overwrite the parts of earlier ones they overlap, so a /24
// listed after its /20 carves the /20 into smaller networks. Files are written
// to a temporary name and renamed into place, so a test that rewrites a file
// a watcher is polling never exposes a half-written database.
package geotest
