package peer

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ReceiverOptions configure a Receiver; only Secret is required.
type ReceiverOptions struct {
	Secret []byte           // the shared secret requests are signed with
	Logger *slog.Logger     // default: discard
	Now    func() time.Time // the clock for the timestamp window; default time.Now
	// Known says whether target, an observation's target, is one the node monitors
	// (store.View.Ruled). Anything else is not recorded: it is counted, logged once per
	// request and answered 200, so a prober whose config is newer than the node's does not
	// retry for ever. nil: every target is recorded.
	Known func(target string) bool
	// KnownBackend says the same of a backend ID in a proxy's feedback, for its load. It is
	// not Known: a pool without a monitor has no store rule, yet its endpoints' loads count
	// (max_inflight). nil: every backend's load is recorded.
	KnownBackend func(id string) bool
	// MaxNonces bounds the replay cache; default DefaultMaxNonces. When it is full of nonces
	// still in the window, requests are refused with 503 until some leave it.
	MaxNonces  int
	Registerer prometheus.Registerer // nil: the metrics are kept but not registered
}

// Receiver is the node's side of the peer API: its handlers (Observations, Plan, Feedback)
// check every request's signature and timestamp and accept each nonce once, through one replay
// cache, so a request captured on the wire cannot be sent again.
type Receiver struct {
	o      ReceiverOptions
	log    *slog.Logger
	replay *replayCache
	m      *metrics
}

// NewReceiver returns a receiver; build one per node and take all its handlers from it, so
// they share the replay cache (and the metrics, which o.Registerer can take only once).
func NewReceiver(o ReceiverOptions) *Receiver {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Receiver{o: o, log: o.Logger.With("component", "peer"), replay: newReplayCache(o.MaxNonces), m: newMetrics(o.Registerer)}
}

// known says whether target may be recorded.
func (rv *Receiver) known(target string) bool { return rv.o.Known == nil || rv.o.Known(target) }

// knownBackend says whether the load of backend id may be recorded.
func (rv *Receiver) knownBackend(id string) bool {
	return rv.o.KnownBackend == nil || rv.o.KnownBackend(id)
}

// readSigned reads r's body, checks its signature and timestamp and admits its nonce. When
// any of that fails it answers (401; 503 when the replay cache is full), logs why and returns
// false.
func (rv *Receiver) readSigned(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if _, err := parseHeaders(r.Header); err != nil { // refused on its head
		rv.m.refused.WithLabelValues(reasonUnauthorized).Inc()
		rv.log.Warn("peer request refused", "prober", claimedProber(r, peekBody(w, r)), "remote", remoteHost(r), "path", r.URL.Path, "reason", err)
		writeError(w, http.StatusUnauthorized, "unauthorized: "+err.Error())
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		code := http.StatusBadRequest // a read timeout or a broken chunked body
		if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
		writeError(w, code, "read body: "+err.Error())
		return nil, false
	}
	now := rv.o.Now()
	ts, n, err := verify(r.Header, rv.o.Secret, now, body)
	if err == nil {
		err = rv.replay.admit(n, ts, now)
	}
	switch {
	case err == nil:
		return body, true
	case errors.Is(err, errFull):
		rv.m.refused.WithLabelValues(reasonCacheFull).Inc()
		rv.log.Warn("peer request refused: replay cache full", "prober", claimedProber(r, body), "remote", remoteHost(r),
			"path", r.URL.Path, "nonces", rv.replay.len())
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "busy: "+err.Error())
	case errors.Is(err, errReplayed):
		rv.m.refused.WithLabelValues(reasonReplayed).Inc()
		rv.log.Warn("peer request refused", "prober", claimedProber(r, body), "remote", remoteHost(r), "path", r.URL.Path, "reason", err)
		writeError(w, http.StatusUnauthorized, err.Error())
	default:
		rv.m.refused.WithLabelValues(reasonUnauthorized).Inc()
		rv.log.Warn("peer request refused", "prober", claimedProber(r, body), "remote", remoteHost(r), "path", r.URL.Path, "reason", err)
		writeError(w, http.StatusUnauthorized, "unauthorized: "+err.Error())
	}
	return nil, false
}

// claimedProber is the prober (or proxy) a request says it is from, for the log only: it is
// unauthenticated, so it is cut to a log-sized length.
func claimedProber(r *http.Request, body []byte) string {
	if p := r.Header.Get(HeaderProber); p != "" {
		return clip(p)
	}
	var b struct {
		Prober string `json:"prober"`
		Proxy  string `json:"proxy"`
	}
	_ = json.Unmarshal(body, &b)
	if b.Prober != "" {
		return clip(b.Prober)
	}
	return clip(b.Proxy)
}

// peekBody is what of an unauthenticated body arrives within 100 ms, at most 4 KiB: enough to
// name the prober in the log, never enough to let a slow sender hold the request.
func peekBody(w http.ResponseWriter, r *http.Request) []byte {
	if r.Header.Get(HeaderProber) != "" {
		return nil
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	b, _ := io.ReadAll(io.LimitReader(r.Body, 4<<10))
	return b
}

// clip cuts s, a name from a request, to at most 64 bytes for a log line.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}
