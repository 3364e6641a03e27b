package web

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/store"
)

// Health is what the API needs from the health store.
type Health interface {
	View() *store.View
	SetOverride(target string, o store.Override) error
	ClearOverride(target string) error
	Events(q store.EventQuery) ([]store.Event, error)
}

// API configures the JSON API under /api/v1.
type API struct {
	Health Health
	// Token is the bearer token changes require; "" disables changes (403).
	Token string
	// Peer, when not nil, serves remote probers under /api/v1/peer (web/peer.go).
	Peer *Peer
	// Services, when not nil, serves /api/v1/services and /api/v1/explain (web/services.go),
	// the event stream /api/v1/stream (web/stream.go) and the dashboard (web/dashboard.go).
	Services Services
	// Regions, when not nil, lists the running config's regions for /api/v1/regions and the
	// dashboard's map.
	Regions func() []RegionInfo
	// Node names this node in the dashboard's header.
	Node string
	// Config, when not nil, returns the running config for /api/v1/config.
	Config func() *config.Config
	// Reload, when not nil, serves POST /api/v1/reload (bearer token): it re-reads the config
	// as SIGHUP does and returns the problems of a rejected one, which leaves the running
	// config serving. allowZoneLoss accepts a config that drops most zones
	// (config.CheckZoneLoss); a *config.ZoneLossError otherwise answers 409.
	Reload func(allowZoneLoss bool) error
	// Replace, when not nil, serves POST /api/v1/replace (bearer token): a new process takes
	// this one's sockets over and this one stops (meridian replace); it returns the new PID.
	Replace func(ctx context.Context) (int, error)
	// Proxy, when not nil, lists the local proxy's backends for GET /api/v1/proxy (web/proxy.go).
	Proxy func() []ProxyBackend
	// ProxySpill, when not nil, lists the local listeners that spill across regions, for
	// GET /api/v1/proxy's "spill" (web/proxy.go).
	ProxySpill func() []ProxySpill
	// Demo, when not nil, lets the dashboard stop and start the demo backends (web/demo.go).
	Demo Demo
	// Registry, when not nil, serves /api/v1/pools/{pool}/endpoints (web/pools.go).
	Registry Registry
	// Cluster, when not nil, serves /api/v1/cluster (web/cluster.go).
	Cluster Cluster
}

// maxOverrideBody bounds an override's body ({"kind", "why"}: why is at most 1 KiB).
const maxOverrideBody = 64 << 10

// api serves /api/v1.
type api struct {
	h       Health
	token   [sha256.Size]byte
	open    bool // a token is configured
	log     *slog.Logger
	peer    *Peer
	svc     Services
	regs    func() []RegionInfo
	cfg     func() *config.Config
	reload  func(allowZoneLoss bool) error
	replace func(ctx context.Context) (int, error)
	stop    <-chan struct{} // closed when the server shuts down: ends the event streams
	// reloaded is fired on a config reload (Server.Reloaded): the stream sends the services.
	reloaded *signal
	history  *signal // fired when the history grows elsewhere (Server.EventsChanged)
	// sampler, when not nil, keeps the answer rates for /api/v1/stats and the stream (stats.go).
	sampler *sampler
	// proxies, when not nil, lists the local proxy's backends for /api/v1/proxy (proxy.go).
	proxies func() []ProxyBackend
	spills  func() []ProxySpill
	demo    Demo // nil: no demo backends (demo.go)
	// registry and cluster, when not nil: pools.go, cluster.go.
	registry Registry
	cluster  Cluster
}

func (a *api) register(mux *http.ServeMux) {
	mux.HandleFunc("/api/v1/endpoints", a.only("GET", a.list))
	mux.HandleFunc("/api/v1/endpoints/{id...}", a.endpoint)
	mux.HandleFunc("/api/v1/events", a.only("GET", a.events))
	if a.peer != nil {
		a.registerPeer(mux, a.peer)
	}
	if a.svc != nil {
		a.registerServices(mux)
		mux.HandleFunc("/api/v1/stream", a.only("GET", a.stream))
		if a.sampler != nil {
			mux.HandleFunc("/api/v1/stats", a.only("GET", a.stats))
		}
	}
	mux.HandleFunc("/api/v1/regions", a.only("GET", a.regions))
	mux.HandleFunc("/api/v1/probers", a.only("GET", a.probers))
	if a.cfg != nil {
		mux.HandleFunc("/api/v1/config", a.only("GET", a.config))
	}
	if a.reload != nil {
		mux.HandleFunc("/api/v1/reload", a.only("POST", a.reloadConfig))
	}
	if a.replace != nil {
		mux.HandleFunc("/api/v1/replace", a.only("POST", a.replaceProcess))
	}
	if a.proxies != nil {
		mux.HandleFunc("/api/v1/proxy", a.only("GET", a.proxy))
	}
	if a.demo != nil {
		a.demoRoutes(mux)
	}
	if a.registry != nil {
		a.registerPools(mux)
	}
	if a.cluster != nil {
		a.registerCluster(mux)
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API path: "+r.URL.Path)
	})
}

// only answers other methods than method with a JSON 405; the mux's own is plain text.
func (a *api) only(method string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
			return
		}
		h(w, r)
	}
}

// endpointJSON is one target in the API.
type endpointJSON struct {
	ID        string        `json:"id"`
	State     string        `json:"state"`     // what policies see
	Aggregate string        `json:"aggregate"` // the quorum's verdict, before any override
	Since     *time.Time    `json:"since"`
	Cause     string        `json:"cause"`
	Override  *overrideJSON `json:"override"`
	Reports   []reportJSON  `json:"reports"`
	Dynamic   bool          `json:"dynamic,omitempty"` // registered at run time
}

type overrideJSON struct {
	Kind store.OverrideKind `json:"kind"`
	Who  string             `json:"who"`
	Why  string             `json:"why"`
	At   time.Time          `json:"at"`
}

type reportJSON struct {
	Prober    string    `json:"prober"`
	Region    string    `json:"region,omitempty"`
	Up        bool      `json:"up"`
	Undecided bool      `json:"undecided"`
	RTTms     float64   `json:"rtt_ms"`
	Err       string    `json:"err"`
	At        time.Time `json:"at"`
	Fresh     bool      `json:"fresh"`
}

// toJSON is ts in the API, marked dynamic when it was registered at run time.
func (a *api) toJSON(ts store.TargetState) endpointJSON {
	e := toJSON(ts)
	e.Dynamic = a.registry != nil && a.registry.Dynamic(ts.Target)
	return e
}

func toJSON(ts store.TargetState) endpointJSON {
	e := endpointJSON{
		ID: ts.Target, State: ts.State.String(), Aggregate: ts.Aggregate.String(),
		Cause: ts.Cause, Reports: []reportJSON{},
	}
	if !ts.Since.IsZero() {
		since := ts.Since.UTC()
		e.Since = &since
	}
	if o := ts.Override; o.Kind != store.None {
		e.Override = &overrideJSON{Kind: o.Kind, Who: o.Who, Why: o.Why, At: o.At.UTC()}
	}
	for _, r := range ts.Reports {
		e.Reports = append(e.Reports, reportJSON{
			Prober: r.Prober, Region: r.Region, Up: r.Up, Undecided: r.Undecided, Err: r.Err, At: r.At.UTC(), Fresh: r.Fresh,
			RTTms: float64(r.RTT.Microseconds()) / 1000,
		})
	}
	return e
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	if q := r.URL.Query().Get("watch"); q == "true" || q == "1" {
		a.watchEndpoints(w, r)
		return
	}
	v := a.h.View()
	out := []endpointJSON{}
	for _, id := range v.Targets() {
		out = append(out, a.toJSON(v.Target(id)))
	}
	writeJSON(w, http.StatusOK, map[string]any{"endpoints": out})
}

func (a *api) known(v *store.View, id string) bool {
	_, found := slices.BinarySearch(v.Targets(), id) // sorted
	return found
}

// endpoint serves /api/v1/endpoints/{id...}: GET the target, or POST or DELETE
// {id}/override. The wildcard must end the pattern, so the /override suffix is cut here.
func (a *api) endpoint(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if r.Method == http.MethodGet {
		v := a.h.View()
		if !a.known(v, id) {
			writeError(w, http.StatusNotFound, "unknown endpoint "+id)
			return
		}
		writeJSON(w, http.StatusOK, a.toJSON(v.Target(id)))
		return
	}
	id, ok := strings.CutSuffix(id, "/override")
	if !ok {
		w.Header().Set("Allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
		return
	}
	if r.Method != http.MethodPost && r.Method != http.MethodDelete {
		w.Header().Set("Allow", "POST, DELETE")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
		return
	}
	if !a.authorized(w, r) {
		return
	}
	// Only the current config's targets (those with a rule) take an override; an override left
	// on a target the config no longer has can still be cleared.
	ts := a.h.View().Target(id)
	if !ts.Ruled && (r.Method == http.MethodPost || ts.Override.Kind == store.None) {
		writeError(w, http.StatusNotFound, "unknown endpoint "+id+" (not a monitored endpoint of the current config)")
		return
	}
	who := "api " + remoteHost(r)
	if r.Method == http.MethodDelete {
		if err := a.h.ClearOverride(id); err != nil {
			a.log.Error("clear override", "target", id, "err", err)
			writeError(w, writeStatus(err), "clear override: "+err.Error())
			return
		}
		a.log.Info("override cleared", "target", id, "who", who)
		writeJSON(w, http.StatusOK, a.toJSON(a.h.View().Target(id)))
		return
	}
	var req struct {
		Kind string `json:"kind"`
		Why  string `json:"why"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxOverrideBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		code := http.StatusBadRequest
		if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
		writeError(w, code, "bad request body: "+err.Error())
		return
	}
	var kind store.OverrideKind
	if err := kind.UnmarshalText([]byte(req.Kind)); err != nil || kind == store.None {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("kind %q: want drain, force-down or force-up (DELETE clears)", req.Kind))
		return
	}
	if len(req.Why) > 1024 {
		writeError(w, http.StatusBadRequest, "why is longer than 1024 bytes")
		return
	}
	if err := a.h.SetOverride(id, store.Override{Kind: kind, Who: who, Why: req.Why}); err != nil {
		a.log.Error("set override", "target", id, "err", err)
		writeError(w, writeStatus(err), "set override: "+err.Error())
		return
	}
	a.log.Info("override set", "target", id, "kind", kind, "who", who, "why", req.Why)
	writeJSON(w, http.StatusOK, a.toJSON(a.h.View().Target(id)))
}

// writeStatus is the status a failed write answers: 503 when it needs the cluster and the
// cluster cannot be reached (nothing was applied here), else 500.
func writeStatus(err error) int {
	if errors.Is(err, store.ErrUnavailable) {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// authorized checks the bearer token, answering 403 or 401 itself when it fails.
func (a *api) authorized(w http.ResponseWriter, r *http.Request) bool {
	if !a.open {
		writeError(w, http.StatusForbidden, "changes are disabled: set [server] token_file")
		return false
	}
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	// Hashing both sides makes the comparison's time independent of the token's length too.
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], a.token[:]) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="meridian"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
		return false
	}
	return true
}

func remoteHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

type eventJSON struct {
	Seq    uint64    `json:"seq"`
	At     time.Time `json:"at"`
	Target string    `json:"target"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Cause  string    `json:"cause"`
	Node   string    `json:"node,omitempty"` // the node that decided it (a cluster's history)
}

func toEventJSON(e store.Event) eventJSON {
	return eventJSON{Seq: e.Seq, At: e.At.UTC(), Target: e.Target, From: e.From.String(), To: e.To.String(), Cause: e.Cause, Node: e.Node}
}

func (a *api) events(w http.ResponseWriter, r *http.Request) {
	q := store.EventQuery{Target: r.URL.Query().Get("target")}
	var err error
	if s := r.URL.Query().Get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil || q.Limit <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q: want a positive integer", s))
			return
		}
	}
	if s := r.URL.Query().Get("after"); s != "" {
		if q.After, err = strconv.ParseUint(s, 10, 64); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("after %q: want an event seq", s))
			return
		}
	}
	for _, b := range []struct {
		key string
		t   *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if s := r.URL.Query().Get(b.key); s != "" {
			if *b.t, err = time.Parse(time.RFC3339, s); err != nil {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("%s %q: want an RFC 3339 time such as 2025-03-01T12:00:00Z", b.key, s))
				return
			}
		}
	}
	var evs []store.Event
	if name := r.URL.Query().Get("service"); name != "" {
		evs, err = a.serviceEvents(w, name, q)
		if evs == nil && err == nil { // answered
			return
		}
	} else {
		evs, err = a.h.Events(q)
	}
	if err != nil {
		a.log.Error("read events", "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := []eventJSON{}
	for _, e := range evs {
		out = append(out, toEventJSON(e))
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
}

// serviceEvents reads the events of the endpoints of the service's pools (q.Target, when set,
// must be one of them), oldest first, one page of q's size. An unknown service is answered
// here with 404, and it returns nil, nil.
func (a *api) serviceEvents(w http.ResponseWriter, name string, q store.EventQuery) ([]store.Event, error) {
	if a.svc == nil {
		writeError(w, http.StatusNotFound, "no load-balanced names on this node")
		return nil, nil
	}
	fqdn := mdns.Fqdn(strings.ToLower(name))
	var targets []string
	found := false
	for _, s := range a.svc.Services() {
		if s.Name != fqdn {
			continue
		}
		found = true
		for _, p := range s.Pools {
			for _, e := range p.Endpoints {
				if q.Target == "" || e.ID == q.Target {
					targets = append(targets, e.ID)
				}
			}
		}
	}
	if !found {
		writeError(w, http.StatusNotFound, "no load-balanced name "+fqdn)
		return nil, nil
	}
	slices.Sort(targets)
	targets = slices.Compact(targets) // a pool can serve as a service's pool and fallback
	limit := q.Limit
	if limit <= 0 {
		limit = store.DefaultEventLimit
	}
	limit = min(limit, store.MaxEventLimit)
	out := []store.Event{}
	// Each target's first page after q.After holds every event of the merged first page.
	for _, t := range targets {
		tq := q
		tq.Target, tq.Limit = t, limit
		evs, err := a.h.Events(tq)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	slices.SortFunc(out, func(x, y store.Event) int { return cmp.Compare(x.Seq, y.Seq) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil { // our own values: a bug, not the client's doing
		code, b = http.StatusInternalServerError, []byte(`{"error": "encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func (s *Server) apiHandler(c *API) *api {
	return &api{h: c.Health, token: sha256.Sum256([]byte(c.Token)), open: c.Token != "", log: s.log, peer: c.Peer, svc: c.Services,
		regs: c.Regions, cfg: c.Config, reload: c.Reload, replace: c.Replace, proxies: c.Proxy, spills: c.ProxySpill, demo: c.Demo, stop: s.stop, sampler: s.sampler,
		reloaded: s.reloaded, history: s.history, registry: c.Registry, cluster: c.Cluster}
}
