package geotest

import (
	"os"
	"path/filepath"
	"testing"
)

// GeoLite2 returns the absolute path of the real GeoLite2 database named file
// ("GeoLite2-City.mmdb", "GeoLite2-Country.mmdb") in the directory $MERIDIAN_GEOLITE2_DIR,
// where `make test` fetches it (test/geodata.sh). Without it the test is skipped on a
// developer's machine and fails under CI (env CI set), which must run it.
func GeoLite2(t testing.TB, file string) string {
	t.Helper()
	missing := t.Skipf
	if os.Getenv("CI") != "" {
		missing = t.Fatalf
	}
	dir := os.Getenv("MERIDIAN_GEOLITE2_DIR")
	if dir == "" {
		missing("MERIDIAN_GEOLITE2_DIR is not set: `make test` fetches GeoLite2 and sets it (or: bash test/geodata.sh DIR)")
	}
	path, err := filepath.Abs(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		missing("no %s in MERIDIAN_GEOLITE2_DIR: %v", file, err)
	}
	return path
}
