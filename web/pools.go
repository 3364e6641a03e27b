package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"time"
)

// Registry adds and removes endpoints at run time (POST/DELETE /api/v1/pools/{pool}/endpoints):
// through the cluster when there is one, else on this node (bbolt).
type Registry interface {
	// Register adds address to pool (or renews it), held for ttl when ttl > 0.
	Register(ctx context.Context, pool string, address netip.Addr, weight uint32, ttl time.Duration) error
	// Deregister drains address and removes it after the pool's drain_timeout, returned. It is
	// refused (ErrBelowMinHealthy) when the pool would have fewer up endpoints than its
	// min_healthy, unless force.
	Deregister(ctx context.Context, pool string, address netip.Addr, force bool) (until time.Time, err error)
	// Endpoints lists pool's endpoints, configured and registered.
	Endpoints(pool string) ([]PoolEndpoint, error)
	// Dynamic says whether target (an endpoint ID) was registered at run time.
	Dynamic(target string) bool
}

// PoolEndpoint is one endpoint of a pool in GET /api/v1/pools/{pool}/endpoints.
type PoolEndpoint struct {
	Address netip.Addr `json:"address"`
	Weight  uint32     `json:"weight"`
	Dynamic bool       `json:"dynamic"`
	// Expires is when a registration with a TTL lapses unless renewed, on a node alone; nil: it
	// does not, or (in a cluster) the etcd lease keeps that.
	Expires *time.Time `json:"expires,omitempty"`
}

// Errors a Registry wraps, for the status code.
var (
	ErrNoPool          = errors.New("no such pool")                                      // 404
	ErrNoEndpoint      = errors.New("no such endpoint")                                  // 404
	ErrNotDynamic      = errors.New("the endpoint is in the config file")                // 409
	ErrBelowMinHealthy = errors.New("the pool would fall below its min_healthy")         // 409
	ErrNoCluster       = errors.New("this node has no [cluster]: nothing to do that to") // 404
)

// maxRegisterBody bounds a registration ({"address", "weight", "ttl"}).
const maxRegisterBody = 4 << 10

func (a *api) registerPools(mux *http.ServeMux) {
	mux.HandleFunc("/api/v1/pools/{pool}/endpoints", func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet:
			eps, err := a.registry.Endpoints(r.PathValue("pool"))
			if err != nil {
				writeRegistryError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"endpoints": eps})
		case http.MethodPost:
			a.registerEndpoint(w, r)
		default:
			w.Header().Set("Allow", "GET, POST")
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
		}
	})
	mux.HandleFunc("/api/v1/pools/{pool}/endpoints/{address}", a.only("DELETE", a.deregisterEndpoint))
}

func (a *api) registerEndpoint(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(w, r) {
		return
	}
	var req struct {
		Address string `json:"address"`
		Weight  uint32 `json:"weight"`
		TTL     string `json:"ttl"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRegisterBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return
	}
	addr, err := netip.ParseAddr(req.Address)
	if err != nil || addr.Zone() != "" {
		writeError(w, http.StatusBadRequest, "address "+req.Address+": want an IPv4 or IPv6 address")
		return
	}
	var ttl time.Duration
	if req.TTL != "" {
		if ttl, err = time.ParseDuration(req.TTL); err != nil || ttl < time.Second || ttl > 24*time.Hour {
			writeError(w, http.StatusBadRequest, "ttl "+req.TTL+": want a duration from 1s to 24h, such as \"30s\"")
			return
		}
	}
	if req.Weight > 65535 {
		writeError(w, http.StatusBadRequest, "weight: want 1 to 65535")
		return
	}
	pool := r.PathValue("pool")
	if err := a.registry.Register(r.Context(), pool, addr.Unmap(), max(req.Weight, 1), ttl); err != nil {
		writeRegistryError(w, err)
		return
	}
	a.log.Debug("registration", "pool", pool, "address", addr, "ttl", ttl, "who", "api "+remoteHost(r))
	writeJSON(w, http.StatusOK, map[string]any{"pool": pool, "address": addr.Unmap(), "weight": max(req.Weight, 1), "ttl": ttl.String()})
}

func (a *api) deregisterEndpoint(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(w, r) {
		return
	}
	addr, err := netip.ParseAddr(r.PathValue("address"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "address "+r.PathValue("address")+": want an IPv4 or IPv6 address")
		return
	}
	force := r.URL.Query().Get("force") == "true"
	pool := r.PathValue("pool")
	until, err := a.registry.Deregister(r.Context(), pool, addr.Unmap(), force)
	if err != nil {
		writeRegistryError(w, err)
		return
	}
	a.log.Info("endpoint deregistering: drained, then removed", "pool", pool, "address", addr, "until", until, "force", force, "who", "api "+remoteHost(r))
	writeJSON(w, http.StatusAccepted, map[string]any{"draining_until": until.UTC()})
}

// writeRegistryError answers err with the status its kind calls for.
func writeRegistryError(w http.ResponseWriter, err error) {
	code := writeStatus(err) // 503 when the cluster cannot be reached, else 500
	switch {
	case errors.Is(err, ErrNoPool), errors.Is(err, ErrNoEndpoint), errors.Is(err, ErrNoCluster):
		code = http.StatusNotFound
	case errors.Is(err, ErrNotDynamic), errors.Is(err, ErrBelowMinHealthy):
		code = http.StatusConflict
	}
	writeError(w, code, err.Error())
}
