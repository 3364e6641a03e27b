package node

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/store"
	"github.com/meridian-gslb/meridian/store/cluster"
	"github.com/meridian-gslb/meridian/web"
	"github.com/prometheus/client_golang/prometheus"
)

// nodeStatus is what this node says of itself in the cluster: the revision it serves and the
// last one it refused.
type nodeStatus struct {
	mu      sync.Mutex
	st      cluster.NodeStatus
	changed chan struct{} // closed at the next change
}

func (s *nodeStatus) init(node string) {
	s.st = cluster.NodeStatus{Node: node, Started: time.Now().UTC()}
	s.changed = make(chan struct{})
}

func (s *nodeStatus) get() cluster.NodeStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

func (s *nodeStatus) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *nodeStatus) served() int64 { return s.get().Revision }

func (s *nodeStatus) update(f func(*cluster.NodeStatus)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.st
	f(&s.st)
	if s.st != before {
		close(s.changed)
		s.changed = make(chan struct{})
	}
}

func (s *nodeStatus) serve(rev int64) {
	s.update(func(st *cluster.NodeStatus) {
		st.Revision = rev
		if st.Rejected != 0 && st.Rejected <= rev {
			st.Rejected, st.Error = 0, ""
		}
	})
}

func (s *nodeStatus) rejected(rev int64, err error) {
	s.update(func(st *cluster.NodeStatus) { st.Rejected, st.Error = rev, err.Error() })
}

// joinCluster connects to the [cluster] and, before anything is built, composes the config
// from the shared state this node cached (so a node that starts while etcd is out of reach
// serves its last revision and registrations). Without [cluster], the node's own
// registrations come from the same cache.
func (n *Node) joinCluster(cfg *config.Config) (*config.Config, error) {
	n.loadShared()
	if cfg.Cluster != nil {
		cl, err := cluster.Dial(cfg.Cluster, n.log)
		if err != nil {
			return nil, err
		}
		n.cl = cl
		n.defer_(func() { _ = cl.Close() })
		n.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "meridian_cluster_up",
				Help: "1 while the node follows the cluster's etcd (its watch has the current state), 0 while it serves its last copy."},
				func() float64 { return b2f(cl.Reachable()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "meridian_cluster_write_failures_total",
				Help: "Writes to etcd that failed because it was out of reach: API changes (answered 503), heartbeats, history."},
				func() float64 { return float64(cl.WriteFailures()) }),
		)
	} else {
		n.sh.mu.Lock()
		n.sh.st.Config = nil // a cached revision from an earlier cluster membership does not apply
		n.sh.mu.Unlock()
		n.expireLocal()
	}
	eff, rev, _, err := n.compose(cfg)
	if err != nil {
		n.log.Error("the cached config revision is rejected; serving the file", "revision", rev, "err", err)
		n.status.rejected(rev, err)
		n.sh.mu.Lock()
		n.sh.st.Config = nil
		n.sh.mu.Unlock()
		if eff, _, _, err = n.compose(cfg); err != nil {
			return nil, err
		}
		rev = 0
	}
	n.status.serve(rev)
	n.cfg.Store(eff)
	n.built = n.sh.signature() // what eff was composed from: runShared rebuilds on any other
	n.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "meridian_cluster_config_revision",
		Help: "The cluster config revision this node serves (0: its own file)."},
		func() float64 { return float64(n.status.served()) }))
	return eff, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// runShared follows the shared state until ctx ends: the cluster's watch and this node's
// heartbeat, and a rebuild whenever what compose depends on changed.
func (n *Node) runShared(ctx context.Context) {
	if n.cl != nil {
		go n.cl.Heartbeat(ctx, n.status.get, n.status.wait)
		go n.cl.Watch(ctx, n.applyCluster, func() {
			if n.web != nil {
				n.web.EventsChanged()
			}
		})
		go n.pushEvents(ctx)
	}
	// From what New composed, not from now: a registration made before this goroutine runs
	// must still be built.
	last := n.built
	n.poked()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.poke:
		}
		// Gather a burst (a thousand registrations) into one rebuild.
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
		sig := n.sh.signature()
		if sig == last {
			continue
		}
		n.saveShared()
		_ = n.recompose() // logged; a rejected revision stays rejected until the next change
		last = sig
	}
}

// poked asks runShared to compose again.
func (n *Node) poked() {
	select {
	case n.poke <- struct{}{}:
	default:
	}
}

// applyCluster takes the cluster's state: the overrides that changed into the local store at
// once (the whole set against the store at the first state after a connect), the rest kept
// for compose, which runShared runs (and caches) once a burst of changes is over.
func (n *Node) applyCluster(st cluster.State) {
	n.sh.mu.Lock()
	prev, synced := n.sh.st.Overrides, n.sh.synced
	n.sh.st, n.sh.synced = st, true
	n.sh.mu.Unlock()
	switch {
	case !synced:
		n.syncOverrides(st.Overrides)
	case !maps.Equal(prev, st.Overrides):
		n.changeOverrides(prev, st.Overrides)
	}
	n.poked()
}

// changeOverrides applies what changed from prev to next to the local store.
func (n *Node) changeOverrides(prev, next map[string]cluster.Override) {
	for id, o := range next {
		if old, ok := prev[id]; ok && old == o {
			continue
		}
		so, err := o.Store()
		if err != nil {
			n.log.Warn("a shared override does not decode; left out", "target", id, "err", err)
			continue
		}
		if err := n.st.SetOverride(id, so); err != nil {
			n.log.Error("shared override not applied", "target", id, "err", err)
		}
	}
	for id := range prev {
		if _, ok := next[id]; !ok {
			if err := n.st.ClearOverride(id); err != nil {
				n.log.Error("shared override not cleared", "target", id, "err", err)
			}
		}
	}
}

// syncOverrides makes the local store's overrides the cluster's.
func (n *Node) syncOverrides(ovs map[string]cluster.Override) {
	v := n.st.View()
	for id, o := range ovs {
		so, err := o.Store()
		if err != nil {
			n.log.Warn("a shared override does not decode; left out", "target", id, "err", err)
			continue
		}
		cur := v.Target(id).Override
		if cur.Kind == so.Kind && cur.Who == so.Who && cur.Why == so.Why {
			continue
		}
		if err := n.st.SetOverride(id, so); err != nil {
			n.log.Error("shared override not applied", "target", id, "err", err)
		}
	}
	for _, id := range v.Targets() {
		if _, shared := ovs[id]; !shared && v.Target(id).Override.Kind != store.None {
			if err := n.st.ClearOverride(id); err != nil {
				n.log.Error("shared override not cleared", "target", id, "err", err)
			}
		}
	}
}

// cachePushed is the cache key of the last local event seq the cluster's history has.
const cachePushed = "cluster/events-pushed"

// pushEvents adds the transitions this node decides to the cluster's history, in order, as
// they are committed here; while etcd is out of reach they wait (in bbolt) and go later.
func (n *Node) pushEvents(ctx context.Context) {
	var pushed uint64
	if b, ok := n.st.Cache(cachePushed); ok {
		pushed, _ = strconv.ParseUint(string(b), 10, 64)
	}
	node := n.Config().Server.Node
	since := 0 // pushes since the last trim
	for ctx.Err() == nil {
		v := n.st.View()
		evs, err := n.st.Events(store.EventQuery{After: pushed, Limit: store.MaxEventLimit})
		if err == nil {
			for _, e := range evs {
				if err = n.cl.PutEvent(ctx, node, e); err != nil {
					break
				}
				pushed = e.Seq
				since++
			}
		}
		if len(evs) > 0 {
			_ = n.st.PutCache(cachePushed, []byte(strconv.FormatUint(pushed, 10)))
		}
		if since >= 100 {
			if n.cl.TrimEvents(ctx) == nil {
				since = 0
			}
		}
		if err != nil || len(evs) == store.MaxEventLimit {
			sleep := time.Second
			if err == nil {
				sleep = 0 // a full page: read the next at once
			}
			select {
			case <-ctx.Done():
			case <-time.After(sleep):
			}
			continue
		}
		select {
		case <-ctx.Done():
		case <-v.Changed():
		}
	}
}

// clusterHealth is the store as the API writes it in a cluster: an override goes to etcd
// first (503 when out of reach: never applied here only), then here at once; the watch
// brings it to every other node.
type clusterHealth struct {
	*store.Store
	n *Node
}

func (h clusterHealth) SetOverride(target string, o store.Override) error {
	if o.At.IsZero() {
		o.At = time.Now().UTC()
	}
	co := cluster.Override{Kind: o.Kind.String(), Who: o.Who, Why: o.Why, At: o.At, Node: h.n.Config().Server.Node}
	if err := h.n.cl.SetOverride(context.Background(), target, co); err != nil {
		return err
	}
	return h.Store.SetOverride(target, o)
}

// Events is the cluster's history: every node's transitions, each with the node that decided it.
func (h clusterHealth) Events(q store.EventQuery) ([]store.Event, error) {
	return h.n.cl.Events(context.Background(), q)
}

func (h clusterHealth) ClearOverride(target string) error {
	if err := h.n.cl.ClearOverride(context.Background(), target); err != nil {
		return err
	}
	return h.Store.ClearOverride(target)
}

// health is the store as this node's API and registry write it.
func (n *Node) health() web.Health {
	if n.cl != nil {
		return clusterHealth{Store: n.st, n: n}
	}
	return n.st
}

// Status is GET /api/v1/cluster.
func (n *Node) Status() web.ClusterStatus {
	if n.cl == nil {
		me := n.status.get()
		return web.ClusterStatus{Backend: "bbolt", Agree: true, Nodes: []web.NodeStatus{{Node: me.Node, Revision: me.Revision,
			Heartbeat: time.Now().UTC().Format(time.RFC3339), Agrees: true}}}
	}
	n.sh.mu.Lock()
	st := n.sh.st
	nodes := maps.Clone(st.Nodes)
	n.sh.mu.Unlock()
	out := web.ClusterStatus{Backend: "etcd", Agree: len(nodes) > 0}
	if st.Config != nil {
		out.Revision = st.Config.Rev
	}
	for _, name := range slices.Sorted(maps.Keys(nodes)) {
		ns := nodes[name]
		agrees := ns.Revision == out.Revision
		out.Agree = out.Agree && agrees
		out.Nodes = append(out.Nodes, web.NodeStatus{Node: ns.Node, Revision: ns.Revision, Rejected: ns.Rejected, Error: ns.Error,
			Heartbeat: ns.Heartbeat.UTC().Format(time.RFC3339), Agrees: agrees})
	}
	return out
}

// PushConfig validates a config file as this node would serve it (parsed beside its own file,
// with its [server] and [cluster], every part prepared but not committed) and stores it as the
// revision every node serves.
func (n *Node) PushConfig(ctx context.Context, source string, content []byte, allowZoneLoss bool) (int64, error) {
	if n.cl == nil {
		return 0, fmt.Errorf("%w (push the file with meridian reload instead)", web.ErrNoCluster)
	}
	n.mu.Lock()
	local := n.local.Load()
	r := &cluster.Revision{Source: source, Content: content}
	pc, err := parseRevision(r, local)
	if err != nil {
		n.mu.Unlock()
		var probs config.Problems
		if errors.As(err, &probs) {
			return 0, probs
		}
		return 0, err
	}
	cfg := pc.WithLocal(local).WithDynamic(n.sh.endpoints())
	if !allowZoneLoss {
		err = config.CheckZoneLoss(n.cfg.Load(), cfg)
	}
	if err == nil {
		_, err = n.prepare(cfg) // dropped: only whether it builds
	}
	n.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return n.cl.PushConfig(ctx, cluster.Revision{Source: filepath.Base(source), Content: content, AllowZoneLoss: allowZoneLoss,
		By: n.Config().Server.Node, At: time.Now().UTC()})
}
