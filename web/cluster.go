package web

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/meridian-gslb/meridian/config"
)

// Cluster is the shared state's view and the config push, for /api/v1/cluster.
type Cluster interface {
	Status() ClusterStatus
	// PushConfig validates content (a config file; this node's [server] and [cluster] stay)
	// and stores it as the revision every node serves; it returns the revision.
	PushConfig(ctx context.Context, source string, content []byte, allowZoneLoss bool) (int64, error)
}

// ClusterStatus is GET /api/v1/cluster.
type ClusterStatus struct {
	Backend  string       `json:"backend"`  // "etcd", or "bbolt" for a node alone
	Revision int64        `json:"revision"` // the latest pushed config revision; 0: none
	Agree    bool         `json:"agree"`    // every node serves it
	Nodes    []NodeStatus `json:"nodes"`
}

// NodeStatus is one node in ClusterStatus.
type NodeStatus struct {
	Node      string `json:"node"`
	Revision  int64  `json:"revision"`
	Rejected  int64  `json:"rejected_revision,omitempty"`
	Error     string `json:"error,omitempty"`
	Heartbeat string `json:"heartbeat"`
	Agrees    bool   `json:"agrees"`
}

// maxConfigBody bounds a pushed config file.
const maxConfigBody = 8 << 20

func (a *api) registerCluster(mux *http.ServeMux) {
	mux.HandleFunc("/api/v1/cluster", a.only("GET", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, a.cluster.Status())
	}))
	mux.HandleFunc("/api/v1/cluster/config", a.only("POST", func(w http.ResponseWriter, r *http.Request) {
		if !a.authorized(w, r) {
			return
		}
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxConfigBody))
		if err != nil {
			writeError(w, http.StatusRequestEntityTooLarge, "config: "+err.Error())
			return
		}
		source := r.Header.Get("X-Meridian-Source")
		if source == "" {
			source = "pushed.toml"
		}
		rev, err := a.cluster.PushConfig(r.Context(), source, b, r.URL.Query().Get("allow_zone_loss") == "true")
		var probs config.Problems
		var zl *config.ZoneLossError
		switch {
		case errors.As(err, &probs):
			writeError(w, http.StatusUnprocessableEntity, err.Error())
		case errors.As(err, &zl):
			writeError(w, http.StatusConflict, err.Error())
		case err != nil:
			writeRegistryError(w, err)
		default:
			a.log.Info("config pushed to the cluster", "revision", rev, "source", source, "who", "api "+remoteHost(r))
			writeJSON(w, http.StatusOK, map[string]any{"revision": rev})
		}
	}))
}
