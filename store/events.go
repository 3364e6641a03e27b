package store

import (
	"fmt"
	"time"

	"github.com/meridian-gslb/meridian/health"
	bolt "go.etcd.io/bbolt"
)

// Event is one change of the state policies see for a target.
type Event struct {
	Seq      uint64 // commit order; ascending Seq is ascending At unless the wall clock stepped back
	At       time.Time
	Target   string
	From, To health.State
	Cause    string // "quorum: 1 of 3 fresh reports up, 2 down (need 2)", "override drain by ana: kernel upgrade"
	Node     string // the node that decided it, in a cluster's history; "" in one node's own
}

// EventQuery selects events. The zero value returns the oldest DefaultEventLimit events.
type EventQuery struct {
	Target string    // "" for every target
	Since  time.Time // At ≥ Since; zero for no bound
	Until  time.Time // At < Until; zero for no bound
	// After is the page cursor: pass the last Seq of the previous page. With Reverse, the
	// result starts below it instead.
	After   uint64
	Limit   int  // default DefaultEventLimit, at most MaxEventLimit
	Reverse bool // newest first
}

// Page sizes for Events.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 1000
)

// Events returns the events q selects, in Seq order (reverse with q.Reverse). A short page
// means there are no more.
func (s *Store) Events(q EventQuery) ([]Event, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultEventLimit
	}
	limit = min(limit, MaxEventLimit)
	var out []Event
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		var k, v []byte
		next := c.Next
		switch {
		case q.Reverse && q.After > 0:
			c.Seek(seqKey(q.After))
			k, v = c.Prev()
			next = c.Prev
		case q.Reverse:
			k, v = c.Last()
			next = c.Prev
		default:
			k, v = c.Seek(seqKey(q.After + 1))
		}
		for ; k != nil && len(out) < limit; k, v = next() {
			var r eventRecord
			if err := get(k, v, &r); err != nil {
				return err
			}
			if q.Target != "" && r.Target != q.Target ||
				!q.Since.IsZero() && r.At.Before(q.Since) ||
				!q.Until.IsZero() && !r.At.Before(q.Until) {
				continue
			}
			out = append(out, Event{Seq: keySeq(k), At: r.At.UTC(), Target: r.Target, From: r.From, To: r.To, Cause: r.Cause})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}
