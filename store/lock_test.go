package store

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestLockIsExclusive(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatalf("first lock: %v", err)
	}
	// flock belongs to the open file, so a second open in this process conflicts too.
	if _, err := Lock(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: err = %v, want ErrLocked", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock, err = Lock(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock()
}
