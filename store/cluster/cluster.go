// Package cluster is the state Meridian nodes share through etcd ([cluster] backend = "etcd"):
// operators' overrides, endpoints registered at run time, the pushed config revision, and each
// node's heartbeat and served revision. Every node watches the whole prefix and applies what
// it sees to its own bbolt store (its durable local cache); health itself stays decided on each
// node from the probers' reports.
//
// Keys under the prefix:
//
//	overrides/<target id>        Override (JSON)
//	endpoints/<pool>/<address>   Endpoint (JSON), held by a lease when registered with a TTL
//	config                       Revision (JSON): the shared config file
//	nodes/<node>                 NodeStatus (JSON), held by the node's lease
package cluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/store"
)

// Override is an operator's override as the cluster holds it.
type Override struct {
	Kind string    `json:"kind"` // drain, force-down, force-up
	Who  string    `json:"who"`
	Why  string    `json:"why,omitempty"`
	At   time.Time `json:"at"`
	Node string    `json:"node"` // the node that took it
}

// Store is o as the local store keeps it.
func (o Override) Store() (store.Override, error) {
	var k store.OverrideKind
	if err := k.UnmarshalText([]byte(o.Kind)); err != nil {
		return store.Override{}, err
	}
	return store.Override{Kind: k, Who: o.Who, Why: o.Why, At: o.At.UTC()}, nil
}

// Endpoint is one endpoint registered at run time.
type Endpoint struct {
	Pool    string        `json:"pool"`
	Address netip.Addr    `json:"address"`
	Weight  uint32        `json:"weight"`
	TTL     time.Duration `json:"ttl,omitempty"` // held by a lease this long unless renewed; 0: until deregistered
	At      time.Time     `json:"at"`            // registered or last renewed
	Node    string        `json:"node"`
}

// ID is e's target ID ("pool/address", config.TargetID): its key under endpoints/ and in State.
func (e Endpoint) ID() string { return config.TargetID{Pool: e.Pool, Endpoint: e.Address}.String() }

// Config is e as a config endpoint.
func (e Endpoint) Config() config.Endpoint {
	return config.Endpoint{Addr: e.Address, Weight: max(e.Weight, 1), Enabled: true, Dynamic: true}
}

// Revision is a pushed config file.
type Revision struct {
	Rev           int64     `json:"-"` // the etcd revision that wrote it: the config's version
	Source        string    `json:"source"`
	Content       []byte    `json:"content"`
	AllowZoneLoss bool      `json:"allow_zone_loss,omitempty"`
	By            string    `json:"by"`
	At            time.Time `json:"at"`
}

// NodeStatus is what a node says of itself, under its lease.
type NodeStatus struct {
	Node      string    `json:"node"`
	Revision  int64     `json:"revision"`                    // the config revision it serves; 0: its own file
	Rejected  int64     `json:"rejected_revision,omitempty"` // the last revision it refused
	Error     string    `json:"error,omitempty"`             // why
	Heartbeat time.Time `json:"heartbeat"`
	Started   time.Time `json:"started"`
}

// State is everything the cluster shares, as of etcd revision Rev.
type State struct {
	Rev       int64
	Overrides map[string]Override // by target ID
	Endpoints map[string]Endpoint // by "pool/address"
	Config    *Revision           // nil: nothing pushed
	Nodes     map[string]NodeStatus
}

func newState() State {
	return State{Overrides: map[string]Override{}, Endpoints: map[string]Endpoint{}, Nodes: map[string]NodeStatus{}}
}

// clone is a copy a consumer may keep.
func (s State) clone() State {
	c := s
	c.Overrides, c.Endpoints, c.Nodes = maps.Clone(s.Overrides), maps.Clone(s.Endpoints), maps.Clone(s.Nodes)
	return c
}

// Client is one node's connection to the cluster.
type Client struct {
	reachable atomic.Bool  // the watch has the current state
	failures  atomic.Int64 // writes refused because etcd was out of reach
	c         *clientv3.Client
	prefix    string
	timeout   time.Duration
	ttl       time.Duration
	log       *slog.Logger
}

// Dial connects to cfg's etcd members. It does not wait for them: a node starts (and serves
// from its local state) while etcd is out of reach.
func Dial(cfg *config.Cluster, log *slog.Logger) (*Client, error) {
	var tlsCfg *tls.Config
	if cfg.CertFile != "" || cfg.CAFile != "" {
		info := transport.TLSInfo{CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, TrustedCAFile: cfg.CAFile}
		var err error
		if tlsCfg, err = info.ClientConfig(); err != nil {
			return nil, fmt.Errorf("[cluster] TLS: %w", err)
		}
	}
	c, err := clientv3.New(clientv3.Config{
		Endpoints: cfg.Endpoints, DialTimeout: cfg.DialTimeout, TLS: tlsCfg,
		DialKeepAliveTime: 5 * time.Second, DialKeepAliveTimeout: cfg.DialTimeout,
		Logger: zap.NewNop(), // its retries are not ours to log; Watch says when etcd is out of reach
	})
	if err != nil {
		return nil, fmt.Errorf("[cluster] etcd client: %w", err)
	}
	return &Client{c: c, prefix: cfg.Prefix, timeout: cfg.DialTimeout, ttl: cfg.LeaseTTL, log: log.With("component", "cluster")}, nil
}

// Close ends the connection.
func (c *Client) Close() error { return c.c.Close() }

// unavailable marks err as the cluster's being out of reach: the API answers 503.
func (c *Client) unavailable(what string, err error) error {
	c.failures.Add(1)
	return unavailable(what, err)
}

// Reachable says whether the watch is following etcd now.
func (c *Client) Reachable() bool { return c.reachable.Load() }

// WriteFailures counts the writes refused because etcd was out of reach.
func (c *Client) WriteFailures() int64 { return c.failures.Load() }

func unavailable(what string, err error) error {
	return fmt.Errorf("%w: %s: %v", store.ErrUnavailable, what, err)
}

func (c *Client) put(ctx context.Context, what, key string, v any, opts ...clientv3.OpOption) (int64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.c.Put(ctx, c.prefix+key, string(b), opts...)
	if err != nil {
		return 0, c.unavailable(what, err)
	}
	return resp.Header.Revision, nil
}

func (c *Client) del(ctx context.Context, what, key string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if _, err := c.c.Delete(ctx, c.prefix+key); err != nil {
		return c.unavailable(what, err)
	}
	return nil
}

// SetOverride puts target's override in force on every node; it returns once etcd has it.
func (c *Client) SetOverride(ctx context.Context, target string, o Override) error {
	_, err := c.put(ctx, "set the override", "overrides/"+target, o)
	return err
}

// ClearOverride removes target's override on every node.
func (c *Client) ClearOverride(ctx context.Context, target string) error {
	return c.del(ctx, "clear the override", "overrides/"+target)
}

func endpointKey(pool string, a netip.Addr) string {
	return "endpoints/" + Endpoint{Pool: pool, Address: a}.ID()
}

// Register adds e to its pool on every node, held by a lease of e.TTL when it has one.
// Registering it again, unchanged, renews its lease (no write, so no node has anything to
// redo); changed, it is written again under a new lease. It reports whether e is new.
func (c *Client) Register(ctx context.Context, e Endpoint) (isNew bool, err error) {
	key := c.prefix + endpointKey(e.Pool, e.Address)
	gctx, cancel := context.WithTimeout(ctx, c.timeout)
	cur, err := c.c.Get(gctx, key)
	cancel()
	if err != nil {
		return false, c.unavailable("read the registration", err)
	}
	if len(cur.Kvs) == 1 {
		var old Endpoint
		kv := cur.Kvs[0]
		if json.Unmarshal(kv.Value, &old) == nil && old.Weight == e.Weight && old.TTL == e.TTL {
			if e.TTL == 0 && kv.Lease == 0 {
				return false, nil // held until deregistered already
			}
			if e.TTL > 0 && kv.Lease != 0 {
				kctx, cancel := context.WithTimeout(ctx, c.timeout)
				_, err := c.c.KeepAliveOnce(kctx, clientv3.LeaseID(kv.Lease))
				cancel()
				if err == nil {
					return false, nil
				}
				// The lease lapsed in between: write it again below.
			}
		}
	}
	var opts []clientv3.OpOption
	if e.TTL > 0 {
		lctx, cancel := context.WithTimeout(ctx, c.timeout)
		lease, err := c.c.Grant(lctx, int64(max(1, (e.TTL+time.Second-1)/time.Second)))
		cancel()
		if err != nil {
			return false, c.unavailable("grant the registration's lease", err)
		}
		opts = append(opts, clientv3.WithLease(lease.ID))
	}
	_, err = c.put(ctx, "register the endpoint", endpointKey(e.Pool, e.Address), e, opts...)
	return len(cur.Kvs) == 0, err
}

// Deregister removes pool's endpoint at a from every node.
func (c *Client) Deregister(ctx context.Context, pool string, a netip.Addr) error {
	return c.del(ctx, "deregister the endpoint", endpointKey(pool, a))
}

// PushConfig stores r as the config every node serves and returns its revision.
func (c *Client) PushConfig(ctx context.Context, r Revision) (int64, error) {
	return c.put(ctx, "store the config", "config", r)
}

// Heartbeat keeps this node's status under a lease of the [cluster] lease_ttl until ctx ends:
// it writes status() at once, every third of the TTL, and whenever changed fires. Out of
// reach, it tries again each second; the lease, and with it the node's entry, lapses.
func (c *Client) Heartbeat(ctx context.Context, status func() NodeStatus, changed func() <-chan struct{}) {
	var lease clientv3.LeaseID
	for ctx.Err() == nil {
		lctx, cancel := context.WithTimeout(ctx, c.timeout)
		if lease == 0 {
			l, err := c.c.Grant(lctx, int64(max(1, c.ttl/time.Second)))
			if err == nil {
				lease = l.ID
			}
		} else if _, err := c.c.KeepAliveOnce(lctx, lease); err != nil {
			lease = 0 // lapsed while etcd was out of reach: grant a new one
		}
		cancel()
		if lease == 0 {
			sleep(ctx, time.Second)
			continue
		}
		st := status()
		st.Heartbeat = time.Now().UTC()
		if _, err := c.put(ctx, "heartbeat", "nodes/"+st.Node, st, clientv3.WithLease(lease)); err != nil {
			lease = 0 // a lapsed lease, or etcd out of reach: start again
			sleep(ctx, time.Second)
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(c.ttl / 3):
		case <-changed():
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// Watch calls apply with the whole shared state at once and after every change, and events
// when the history grew, until ctx ends. When etcd is out of reach it keeps trying (each
// second) and apply is not called, so the node keeps its last state; once back, the state is
// read whole again.
func (c *Client) Watch(ctx context.Context, apply func(State), events func()) {
	failing := false
	for ctx.Err() == nil {
		err := c.watch(ctx, apply, events)
		if ctx.Err() != nil {
			return
		}
		if !failing {
			c.log.Warn("the cluster is out of reach; serving the last shared state", "err", err)
			failing = true
		}
		sleep(ctx, time.Second)
		if err := c.ping(ctx); err == nil && failing {
			c.log.Info("the cluster is back")
			failing = false
		}
	}
}

func (c *Client) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, err := c.c.Get(ctx, c.prefix+"config", clientv3.WithCountOnly())
	return err
}

func (c *Client) watch(ctx context.Context, apply func(State), events func()) error {
	gctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// The whole prefix but the history (events/, read page by page by Events).
	resp, err := c.c.Get(gctx, c.prefix, clientv3.WithRange(c.prefix+"events/"))
	if err != nil {
		return err
	}
	st := newState()
	for _, kv := range resp.Kvs {
		c.set(&st, string(kv.Key), kv.Value, kv.ModRevision)
	}
	rest, err := c.c.Get(gctx, c.prefix+"events0", clientv3.WithRange(prefixEnd(c.prefix)))
	if err != nil {
		return err
	}
	for _, kv := range rest.Kvs {
		c.set(&st, string(kv.Key), kv.Value, kv.ModRevision)
	}
	st.Rev = resp.Header.Revision
	apply(st.clone())
	c.reachable.Store(true)
	defer c.reachable.Store(false)
	wctx, stop := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer stop()
	for wr := range c.c.Watch(wctx, c.prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1)) {
		if err := wr.Err(); err != nil {
			return err
		}
		state, history := false, false
		for _, ev := range wr.Events {
			key := string(ev.Kv.Key)
			if strings.HasPrefix(key, c.prefix+"events/") {
				history = true
				continue
			}
			state = true
			if ev.Type == clientv3.EventTypeDelete {
				c.unset(&st, key)
			} else {
				c.set(&st, key, ev.Kv.Value, ev.Kv.ModRevision)
			}
		}
		st.Rev = wr.Header.Revision
		if state {
			apply(st.clone())
		}
		if history {
			events()
		}
	}
	return errors.New("watch ended")
}

// set applies one key's value to st; a value that does not decode is logged and left out.
func (c *Client) set(st *State, key string, val []byte, rev int64) {
	k := strings.TrimPrefix(key, c.prefix)
	var err error
	switch {
	case strings.HasPrefix(k, "overrides/"):
		var o Override
		if err = json.Unmarshal(val, &o); err == nil {
			st.Overrides[strings.TrimPrefix(k, "overrides/")] = o
		}
	case strings.HasPrefix(k, "endpoints/"):
		var e Endpoint
		if err = json.Unmarshal(val, &e); err == nil {
			st.Endpoints[strings.TrimPrefix(k, "endpoints/")] = e
		}
	case k == "config":
		var r Revision
		if err = json.Unmarshal(val, &r); err == nil {
			r.Rev = rev
			st.Config = &r
		}
	case strings.HasPrefix(k, "nodes/"):
		var n NodeStatus
		if err = json.Unmarshal(val, &n); err == nil {
			st.Nodes[strings.TrimPrefix(k, "nodes/")] = n
		}
	}
	if err != nil {
		c.log.Warn("a shared key does not decode; left out", "key", key, "err", err)
	}
}

func (c *Client) unset(st *State, key string) {
	k := strings.TrimPrefix(key, c.prefix)
	switch {
	case strings.HasPrefix(k, "overrides/"):
		delete(st.Overrides, strings.TrimPrefix(k, "overrides/"))
	case strings.HasPrefix(k, "endpoints/"):
		delete(st.Endpoints, strings.TrimPrefix(k, "endpoints/"))
	case k == "config":
		st.Config = nil
	case strings.HasPrefix(k, "nodes/"):
		delete(st.Nodes, strings.TrimPrefix(k, "nodes/"))
	}
}

// prefixEnd is the first key after every key that starts with p.
func prefixEnd(p string) string { return clientv3.GetPrefixRangeEnd(p) }
