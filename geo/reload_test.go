package geo

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/geo/geotest"
)

func oneNet(country string) []geotest.Net {
	return []geotest.Net{{CIDR: "192.0.2.0/24", Continent: continentOf(country), Country: country}}
}

func TestReload(t *testing.T) {
	tests := []struct {
		name        string
		rewrite     func(t *testing.T, path string)
		wantErr     bool
		wantCountry string
	}{
		{"new data", func(t *testing.T, path string) { geotest.WriteCountry(t, path, oneNet("FR")) }, false, "FR"},
		{"corrupt file keeps the old data", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("garbage, not an mmdb"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, true, "DE"},
		{"truncated file keeps the old data", func(t *testing.T, path string) {
			if err := os.Truncate(path, 100); err != nil {
				t.Fatal(err)
			}
		}, true, "DE"},
		{"removed file keeps the old data", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		}, true, "DE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := fixture(t, geotest.WriteCountry, oneNet("DE"))
			d := mustOpen(t, Options{}, path)
			ip := addr("192.0.2.1")
			if got := d.Locate(ip).Country; got != "DE" {
				t.Fatalf("before: Country = %q, want DE", got)
			}
			tc.rewrite(t, path)
			err := d.Reload()
			if (err != nil) != tc.wantErr {
				t.Fatalf("Reload() = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !containsPath(err, path) {
				t.Errorf("Reload() = %v, want it to name %s", err, path)
			}
			if got := d.Locate(ip).Country; got != tc.wantCountry {
				t.Errorf("after: Country = %q, want %q (the cache must not outlive the data)", got, tc.wantCountry)
			}
		})
	}
}

// TestReloadWhileLocating swaps data under concurrent readers; run with -race.
func TestReloadWhileLocating(t *testing.T) {
	path := fixture(t, geotest.WriteCountry, oneNet("DE"))
	d := mustOpen(t, Options{}, path)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if c := d.Locate(addr("192.0.2.1")).Country; c != "DE" && c != "FR" {
					t.Errorf("Country = %q during reloads, want DE or FR", c)
					return
				}
			}
		})
	}
	for i := range 20 {
		geotest.WriteCountry(t, path, oneNet([]string{"DE", "FR"}[i%2]))
		if err := d.Reload(); err != nil {
			t.Errorf("Reload: %v", err)
		}
	}
	cancel()
	wg.Wait()
}

func TestWatch(t *testing.T) {
	path := fixture(t, geotest.WriteCountry, oneNet("DE"))
	d := mustOpen(t, Options{}, path)
	ctx, cancel := context.WithCancel(t.Context())
	results := make(chan error, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Watch(ctx, 5*time.Millisecond, func(err error) { results <- err })
	}()
	defer func() { cancel(); <-done }()
	ip := addr("192.0.2.1")

	steps := []struct {
		name        string
		write       func(t *testing.T, path string)
		wantErr     bool
		wantCountry string
	}{
		{"new data is picked up", func(t *testing.T, p string) { geotest.WriteCountry(t, p, oneNet("FR")) }, false, "FR"},
		{"a corrupt file keeps the old data", func(t *testing.T, p string) {
			if err := os.WriteFile(p, []byte("garbage"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, true, "FR"},
		{"the repaired file is picked up", func(t *testing.T, p string) { geotest.WriteCountry(t, p, oneNet("ES")) }, false, "ES"},
	}
	for i, st := range steps {
		replace(t, path, i+1, st.write)
		select {
		case err := <-results:
			if (err != nil) != st.wantErr {
				t.Fatalf("%s: onReload(%v), want error %v", st.name, err, st.wantErr)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: timed out waiting for onReload", st.name)
		}
		if got := d.Locate(ip).Country; got != st.wantCountry {
			t.Errorf("%s: Country = %q, want %q", st.name, got, st.wantCountry)
		}
		if st.wantErr {
			// The broken file must be reported once, not at every poll: give
			// the watcher ten polls to get it wrong.
			select {
			case err := <-results:
				t.Errorf("%s: onReload(%v) again for an unchanged file", st.name, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// replace puts a new file at path in one rename, written by write and dated n
// minutes ahead, so the watcher sees one change even when the size is the same
// and the rewrite falls within the file system's timestamp granularity.
func replace(t *testing.T, path string, n int, write func(t *testing.T, path string)) {
	t.Helper()
	tmp := path + ".new"
	write(t, tmp)
	mt := time.Now().Add(time.Duration(n) * time.Minute)
	if err := os.Chtimes(tmp, mt, mt); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
