package store

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// PutCache keeps val under key in the state file, durably once it returns: a cluster node's
// local copy of what the cluster shares (the registered endpoints, the config revision), so
// that it starts and serves from its last state when the cluster is out of reach. It is
// written apart from the committer: nothing in a View depends on it.
func (s *Store) PutCache(key string, val []byte) error {
	err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketCache).Put([]byte(key), val) })
	if err != nil {
		return fmt.Errorf("cache %s in %s: %w", key, s.path, err)
	}
	return nil
}

// Cache returns what PutCache kept under key.
func (s *Store) Cache(key string) ([]byte, bool) {
	var out []byte
	_ = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketCache).Get([]byte(key)); v != nil {
			out = bytes.Clone(v)
		}
		return nil
	})
	return out, out != nil
}
