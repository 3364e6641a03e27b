package web

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/health/measure"
	"github.com/meridian-gslb/meridian/health/peer"
	"github.com/meridian-gslb/meridian/store"
)

// Peer configures the API remote probers and proxies use: POST /api/v1/peer/observations,
// GET /api/v1/peer/plan and POST /api/v1/peer/feedback, all signed with Secret (see
// health/peer). The three share one replay cache, so each signed request is accepted once.
type Peer struct {
	Secret []byte
	Sink   health.Sink            // records the probers' observations: the store
	Plan   func() []health.Target // the node's current probe targets, read at every request
	// Feedback, when not nil, records remote proxies' reports (store.Measurements).
	Feedback measure.Sink
	Now      func() time.Time // default time.Now
	// Known says whether an observation's target is one of the current config's; observations
	// of others are counted and dropped. nil: when Sink is a *store.Store, the targets its View
	// has a rule for (store.Store.SetRules at each load); else every target.
	Known func(target string) bool
	// KnownBackend says the same of a backend ID in a proxy's feedback; loads of others are
	// counted and dropped. nil: every backend (the store's rules leave out the endpoints of
	// pools without a monitor, whose loads max_inflight still reads).
	KnownBackend func(id string) bool
	// Registerer takes the meridian_peer_* metrics; nil: they are not registered.
	Registerer prometheus.Registerer
}

func (a *api) registerPeer(mux *http.ServeMux, p *Peer) {
	known := p.Known
	if st, ok := p.Sink.(*store.Store); ok && known == nil {
		known = func(target string) bool { return st.View().Ruled(target) }
	}
	rv := peer.NewReceiver(peer.ReceiverOptions{Secret: p.Secret, Logger: a.log, Now: p.Now, Known: known,
		KnownBackend: p.KnownBackend, Registerer: p.Registerer})
	mux.HandleFunc(peer.ObservationsPath, a.only("POST", rv.Observations(p.Sink).ServeHTTP))
	mux.HandleFunc(peer.PlanPath, a.only("GET", rv.Plan(p.Plan).ServeHTTP))
	if p.Feedback != nil {
		mux.HandleFunc(peer.FeedbackPath, a.only("POST", rv.Feedback(p.Feedback).ServeHTTP))
	}
}
