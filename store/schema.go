package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// schemaVersion is the layout this code reads and writes. Bump it with a migration in
// unsafeInitSchema when a bucket's key or value format changes.
const schemaVersion = 1

// Every bucket of the state file, declared once.
var (
	bucketMeta      = []byte("meta")      // keySchemaVersion → uint64
	bucketObs       = []byte("obs")       // obsKey(target, prober) → obsRecord
	bucketState     = []byte("state")     // target → stateRecord
	bucketEvents    = []byte("events")    // seqKey(NextSequence) → eventRecord
	bucketOverrides = []byte("overrides") // target → overrideRecord
	bucketCache     = []byte("cache")     // a cluster node's copy of shared state (Store.PutCache)

	buckets = [][]byte{bucketMeta, bucketObs, bucketState, bucketEvents, bucketOverrides, bucketCache}

	keySchemaVersion = []byte("schema_version")
)

// unsafeInitSchema creates missing buckets and checks the version; the caller holds a write tx.
func unsafeInitSchema(tx *bolt.Tx) error {
	if meta := tx.Bucket(bucketMeta); meta != nil {
		v := meta.Get(keySchemaVersion)
		if len(v) != 8 {
			return fmt.Errorf("meta bucket has no valid schema version (%d bytes)", len(v))
		}
		switch got := binary.BigEndian.Uint64(v); {
		case got > schemaVersion:
			return fmt.Errorf("schema version %d is newer than this binary's %d: run a newer meridian, or move the file away to start empty", got, schemaVersion)
		case got < schemaVersion:
			return fmt.Errorf("schema version %d has no migration to %d", got, schemaVersion)
		}
	} else if hasOtherBuckets(tx) {
		return errors.New("file has buckets but no schema version: not a meridian state file")
	}
	for _, name := range buckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return tx.Bucket(bucketMeta).Put(keySchemaVersion, seqKey(schemaVersion))
}

func hasOtherBuckets(tx *bolt.Tx) bool {
	k, _ := tx.Cursor().First()
	return k != nil
}

// obsKey is target\x00prober, so one target's reports are adjacent and prefix-scannable.
// Record rejects NUL in either part.
func obsKey(target, prober string) []byte {
	k := make([]byte, 0, len(target)+1+len(prober))
	k = append(k, target...)
	k = append(k, 0)
	return append(k, prober...)
}

func splitObsKey(k []byte) (target, prober string, ok bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return "", "", false
	}
	return string(k[:i]), string(k[i+1:]), true
}

// seqKey is a big-endian uint64, so keys sort in sequence order.
func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

func keySeq(k []byte) uint64 { return binary.BigEndian.Uint64(k) }
