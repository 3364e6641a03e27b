package web

import (
	"net/http"
	"time"

	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/health/peer"
	"github.com/meridian-gslb/meridian/proxy/feedback"
)

// Peer configures the API remote probers and proxies use: POST /api/v1/peer/observations,
// GET /api/v1/peer/plan and POST /api/v1/peer/feedback, all signed with Secret (see
// health/peer).
type Peer struct {
	Secret []byte
	Sink   health.Sink            // records the probers' observations: the store
	Plan   func() []health.Target // the node's current probe targets, read at every request
	// Feedback, when not nil, records remote proxies' reports (store.Measurements).
	Feedback feedback.Sink
	Now      func() time.Time // default time.Now
}

func (a *api) registerPeer(mux *http.ServeMux, p *Peer) {
	mux.HandleFunc(peer.ObservationsPath, a.only("POST", peer.Handler(p.Sink, p.Secret, a.log, p.Now).ServeHTTP))
	mux.HandleFunc(peer.PlanPath, a.only("GET", peer.PlanHandler(p.Plan, p.Secret, a.log, p.Now).ServeHTTP))
	if p.Feedback != nil {
		mux.HandleFunc(peer.FeedbackPath, a.only("POST", peer.FeedbackHandler(p.Feedback, p.Secret, a.log, p.Now).ServeHTTP))
	}
}
