package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/store"
)

// The cluster's transition history: every node puts the transitions it decides under
// events/<node>/<its local seq> (so a retry rewrites the same key), and the history is read
// in etcd revision order, which is the Seq it shows: one sequence for the whole cluster.
// MaxEvents bounds it; the oldest go first.

// MaxEvents is how many transitions the cluster keeps.
const MaxEvents = 10000

type eventRecord struct {
	At     time.Time `json:"at"`
	Target string    `json:"target"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Cause  string    `json:"cause"`
	Node   string    `json:"node"`
}

// PutEvent adds one of node's transitions to the history.
func (c *Client) PutEvent(ctx context.Context, node string, e store.Event) error {
	r := eventRecord{At: e.At.UTC(), Target: e.Target, From: e.From.String(), To: e.To.String(), Cause: e.Cause, Node: node}
	_, err := c.put(ctx, "record the transition", fmt.Sprintf("events/%s/%020d", node, e.Seq), r)
	return err
}

// TrimEvents deletes the oldest transitions beyond MaxEvents.
func (c *Client) TrimEvents(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.c.Get(ctx, c.prefix+"events/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count <= MaxEvents {
		return err
	}
	old, err := c.c.Get(ctx, c.prefix+"events/", clientv3.WithPrefix(), clientv3.WithKeysOnly(),
		clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortAscend), clientv3.WithLimit(resp.Count-MaxEvents))
	if err != nil {
		return err
	}
	for _, kv := range old.Kvs {
		if _, err := c.c.Delete(ctx, string(kv.Key)); err != nil {
			return err
		}
	}
	return nil
}

// Events returns the history q selects, Seq being each transition's etcd revision.
func (c *Client) Events(ctx context.Context, q store.EventQuery) ([]store.Event, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultEventLimit
	}
	limit = min(limit, store.MaxEventLimit)
	order := clientv3.SortAscend
	opts := []clientv3.OpOption{clientv3.WithPrefix()}
	if q.Reverse {
		order = clientv3.SortDescend
		if q.After > 0 {
			opts = append(opts, clientv3.WithMaxModRev(int64(q.After)-1))
		}
	} else if q.After > 0 {
		opts = append(opts, clientv3.WithMinModRev(int64(q.After)+1))
	}
	opts = append(opts, clientv3.WithSort(clientv3.SortByModRevision, order))
	if q.Target == "" && q.Since.IsZero() && q.Until.IsZero() {
		opts = append(opts, clientv3.WithLimit(int64(limit)))
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.c.Get(ctx, c.prefix+"events/", opts...)
	if err != nil {
		return nil, unavailable("read the history", err)
	}
	var out []store.Event
	for _, kv := range resp.Kvs {
		var r eventRecord
		if json.Unmarshal(kv.Value, &r) != nil {
			continue
		}
		if q.Target != "" && r.Target != q.Target || !q.Since.IsZero() && r.At.Before(q.Since) || !q.Until.IsZero() && !r.At.Before(q.Until) {
			continue
		}
		out = append(out, store.Event{Seq: uint64(kv.ModRevision), At: r.At.UTC(), Target: r.Target,
			From: health.ParseState(r.From), To: health.ParseState(r.To), Cause: r.Cause, Node: r.Node})
		if len(out) == limit {
			break
		}
	}
	return out, nil
}
