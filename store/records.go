package store

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/meridian-gslb/meridian/health"
	bolt "go.etcd.io/bbolt"
)

// Values are JSON: small, readable with `bbolt get`, and tolerant of added fields. Keys are in
// schema.go. Times are stored in UTC.

type obsRecord struct {
	Up        bool          `json:"up"`
	Undecided bool          `json:"undecided,omitempty"`
	Region    string        `json:"region,omitempty"`
	RTT       time.Duration `json:"rtt_ns,omitempty"`
	Err       string        `json:"err,omitempty"`
	At        time.Time     `json:"at"`
}

type stateRecord struct {
	Aggregate health.State `json:"aggregate"`
	Since     time.Time    `json:"since"` // when the state policies see last changed
	Cause     string       `json:"cause,omitempty"`
}

type overrideRecord struct {
	Kind OverrideKind `json:"kind"`
	Who  string       `json:"who,omitempty"`
	Why  string       `json:"why,omitempty"`
	At   time.Time    `json:"at"`
}

type eventRecord struct {
	At     time.Time    `json:"at"`
	Target string       `json:"target"`
	From   health.State `json:"from"`
	To     health.State `json:"to"`
	Cause  string       `json:"cause,omitempty"`
}

func put(b *bolt.Bucket, k []byte, v any) error {
	buf, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, buf)
}

func get(k, v []byte, dst any) error {
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("decode %q: %w", k, err)
	}
	return nil
}

// unsafeLoad reads every target's reports, state and override; the caller holds a tx.
func unsafeLoad(tx *bolt.Tx) (map[string]*entry, error) {
	es := make(map[string]*entry)
	at := func(target string) *entry {
		e := es[target]
		if e == nil {
			e = &entry{ts: TargetState{Target: target}}
			es[target] = e
		}
		return e
	}
	err := tx.Bucket(bucketObs).ForEach(func(k, v []byte) error {
		target, prober, ok := splitObsKey(k)
		if !ok {
			return fmt.Errorf("obs key %q has no separator", k)
		}
		var r obsRecord
		if err := get(k, v, &r); err != nil {
			return err
		}
		e := at(target)
		e.ts.Reports = append(e.ts.Reports, Report{Prober: prober, Region: r.Region, Up: r.Up, Undecided: r.Undecided, RTT: r.RTT, Err: r.Err, At: r.At.UTC()})
		return nil // keys sort by target then prober, so Reports is sorted
	})
	if err != nil {
		return nil, err
	}
	err = tx.Bucket(bucketState).ForEach(func(k, v []byte) error {
		var r stateRecord
		if err := get(k, v, &r); err != nil {
			return err
		}
		e := at(string(k))
		e.ts.Aggregate, e.ts.Since, e.ts.Cause = r.Aggregate, r.Since.UTC(), r.Cause
		e.stateRow = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = tx.Bucket(bucketOverrides).ForEach(func(k, v []byte) error {
		var r overrideRecord
		if err := get(k, v, &r); err != nil {
			return err
		}
		at(string(k)).ts.Override = Override{Kind: r.Kind, Who: r.Who, Why: r.Why, At: r.At.UTC()}
		return nil
	})
	return es, err
}
