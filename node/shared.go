package node

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/store/cluster"
)

// What a node serves is composed of its own file (n.local), and what it shares: with
// [cluster], the cluster's state (the pushed config revision, the registered endpoints, the
// overrides); alone, the endpoints registered on it. compose makes the config from them.

// shared is the state a node takes from outside its file.
type shared struct {
	mu sync.Mutex
	// st: with [cluster], the last state the watch delivered (or the local cache's copy);
	// alone, st.Endpoints are this node's registrations.
	st     cluster.State
	synced bool                   // st came from the cluster's watch (not only the cache)
	timers map[string]*time.Timer // alone: registrations' TTLs
	// parsed is the last revision parsed, by Rev, and its error.
	parsed    *config.Config
	parsedRev int64
	parsedErr error
}

// endpoints are the registered endpoints by pool, in address order.
func (s *shared) endpoints() map[string][]config.Endpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]config.Endpoint{}
	for _, k := range slices.Sorted(maps.Keys(s.st.Endpoints)) {
		e := s.st.Endpoints[k]
		out[e.Pool] = append(out[e.Pool], e.Config())
	}
	return out
}

// signature names what compose depends on: the revision and the registered endpoints (not
// their renewal times), so a renewal does not rebuild anything.
func (s *shared) signature() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	if s.st.Config != nil {
		fmt.Fprintf(&b, "rev %d\n", s.st.Config.Rev)
	}
	for _, k := range slices.Sorted(maps.Keys(s.st.Endpoints)) {
		fmt.Fprintf(&b, "%s %d\n", k, s.st.Endpoints[k].Weight)
	}
	return b.String()
}

// revision parses the cluster's config revision for local (nil, 0: none pushed), once per
// revision.
func (s *shared) revision(local *config.Config) (*config.Config, *cluster.Revision, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.st.Config
	if r == nil {
		return nil, nil, nil
	}
	if s.parsedRev != r.Rev {
		s.parsed, s.parsedErr = parseRevision(r, local)
		s.parsedRev = r.Rev
	}
	return s.parsed, r, s.parsedErr
}

// parseRevision parses a pushed file as if it were beside local's file, so that its relative
// paths (GeoIP databases, latency table, certificates) are this node's.
func parseRevision(r *cluster.Revision, local *config.Config) (*config.Config, error) {
	dir := "."
	if local.Source != config.DefaultSource {
		dir = filepath.Dir(local.Source)
	}
	name := filepath.Join(dir, filepath.Base(r.Source))
	cfg, err := config.Parse(name, r.Content)
	if err != nil {
		return nil, fmt.Errorf("config revision %d: %w", r.Rev, err)
	}
	return cfg, nil
}

// compose is what the node serves given its own file: the pushed revision (if any) with this
// node's [server] and [cluster] and the revision as the default SOA serial, then the registered
// endpoints. rev is the revision it holds (0: the file's own zones); allowZoneLoss is the
// push's.
func (n *Node) compose(local *config.Config) (cfg *config.Config, rev int64, allowZoneLoss bool, err error) {
	cfg = local
	pc, r, err := n.sh.revision(local)
	if r != nil {
		if err != nil {
			return nil, r.Rev, false, err
		}
		cfg = pc.WithLocal(local).WithSerial(uint32(r.Rev))
		rev, allowZoneLoss = r.Rev, r.AllowZoneLoss
	}
	return cfg.WithDynamic(n.sh.endpoints()), rev, allowZoneLoss, nil
}

// Cache keys of the shared state in the local store.
const (
	cacheConfig    = "cluster/config"
	cacheEndpoints = "cluster/endpoints"
)

type cachedRevision struct {
	Rev int64 `json:"rev"`
	cluster.Revision
}

// saveShared keeps the shared config revision and registrations in the local store, so that a
// restart while the cluster is out of reach serves them.
func (n *Node) saveShared() {
	n.sh.mu.Lock()
	eps, _ := json.Marshal(n.sh.st.Endpoints)
	var rev []byte
	if r := n.sh.st.Config; r != nil {
		rev, _ = json.Marshal(cachedRevision{Rev: r.Rev, Revision: *r})
	}
	n.sh.mu.Unlock()
	if old, _ := n.st.Cache(cacheEndpoints); string(old) != string(eps) {
		if err := n.st.PutCache(cacheEndpoints, eps); err != nil {
			n.log.Error("registered endpoints not cached", "err", err)
		}
	}
	if old, _ := n.st.Cache(cacheConfig); rev != nil && string(old) != string(rev) {
		if err := n.st.PutCache(cacheConfig, rev); err != nil {
			n.log.Error("config revision not cached", "err", err)
		}
	}
}

// loadShared reads what saveShared kept.
func (n *Node) loadShared() {
	n.sh.mu.Lock()
	defer n.sh.mu.Unlock()
	n.sh.st = cluster.State{Overrides: map[string]cluster.Override{}, Endpoints: map[string]cluster.Endpoint{}, Nodes: map[string]cluster.NodeStatus{}}
	if b, ok := n.st.Cache(cacheEndpoints); ok {
		if err := json.Unmarshal(b, &n.sh.st.Endpoints); err != nil {
			n.log.Warn("cached registered endpoints do not decode; starting without them", "err", err)
		}
	}
	if b, ok := n.st.Cache(cacheConfig); ok {
		var c cachedRevision
		if err := json.Unmarshal(b, &c); err != nil {
			n.log.Warn("cached config revision does not decode; serving the file", "err", err)
			return
		}
		c.Revision.Rev = c.Rev
		n.sh.st.Config = &c.Revision
	}
}
