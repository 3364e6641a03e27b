package peer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/meridian-gslb/meridian/health"
)

// maxBody bounds a request body: a batch of observations or a plan.
const maxBody = 8 << 20

// Batch is the body of POST /api/v1/peer/observations.
type Batch struct {
	Prober       string            `json:"prober"`
	Region       string            `json:"region,omitempty"`
	Observations []ObservationJSON `json:"observations"`
}

// ObservationJSON is one observation on the wire. Prober may be left out; when given, it must
// equal the batch's.
type ObservationJSON struct {
	Target    string    `json:"target"`
	Prober    string    `json:"prober,omitempty"`
	Up        bool      `json:"up"`
	Undecided bool      `json:"undecided"`
	RTTns     int64     `json:"rtt_ns"`
	Err       string    `json:"err"`
	At        time.Time `json:"at"`
}

func toWire(o health.Observation) ObservationJSON {
	return ObservationJSON{Target: o.Target, Up: o.Up, Undecided: o.Undecided,
		RTTns: int64(o.RTT), Err: o.Err, At: o.At}
}

// recordConcurrency bounds the Records of one batch in flight, so the store can group them
// into few commits.
const recordConcurrency = 32

// Handler receives signed batches of observations and records each in sink. It answers 401
// (and logs why) to a request whose signature or timestamp is wrong, 400 to a malformed batch,
// 500 when sink fails, else 200 {"recorded": n}. now is the clock for the replay window.
func Handler(sink health.Sink, secret []byte, log *slog.Logger, now func() time.Time) http.Handler {
	if now == nil {
		now = time.Now
	}
	log = log.With("component", "peer")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readSigned(w, r, secret, log, now)
		if !ok {
			return
		}
		var b Batch
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&b); err != nil {
			writeError(w, http.StatusBadRequest, "bad batch: "+err.Error())
			return
		}
		if b.Prober == "" {
			writeError(w, http.StatusBadRequest, "batch names no prober")
			return
		}
		t := now()
		obs := make([]health.Observation, 0, len(b.Observations))
		for i, o := range b.Observations {
			if o.Prober != "" && o.Prober != b.Prober {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("observations[%d]: prober %q is not the batch's %q", i, o.Prober, b.Prober))
				return
			}
			if o.Target == "" {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("observations[%d]: no target", i))
				return
			}
			at := o.At
			if at.IsZero() || at.After(t) { // a clock ahead must not keep a report fresh
				at = t
			}
			obs = append(obs, health.Observation{Target: o.Target, Prober: b.Prober, Region: b.Region, Up: o.Up,
				Undecided: o.Undecided, RTT: time.Duration(o.RTTns), Err: o.Err, At: at})
		}
		if err := recordAll(r.Context(), sink, obs); err != nil {
			log.Error("recording remote observations failed", "prober", b.Prober, "err", err)
			writeError(w, http.StatusInternalServerError, "record: "+err.Error())
			return
		}
		log.Debug("recorded remote observations", "prober", b.Prober, "remote", r.RemoteAddr, "n", len(obs))
		writeJSON(w, http.StatusOK, map[string]int{"recorded": len(obs)})
	})
}

// recordAll records obs concurrently (bounded) and returns the first error.
func recordAll(ctx context.Context, sink health.Sink, obs []health.Observation) error {
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		sem   = make(chan struct{}, recordConcurrency)
	)
	for _, o := range obs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := sink.Record(ctx, o); err != nil {
				once.Do(func() { first = fmt.Errorf("target %s: %w", o.Target, err) })
			}
		})
	}
	wg.Wait()
	return first
}

// readSigned reads r's body and checks its signature; when that fails it answers 401, logs
// why and returns false.
func readSigned(w http.ResponseWriter, r *http.Request, secret []byte, log *slog.Logger, now func() time.Time) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "read body: "+err.Error())
		return nil, false
	}
	if err := verify(r.Header, secret, now(), body); err != nil {
		prober := r.Header.Get(HeaderProber)
		if prober == "" {
			var b struct {
				Prober string `json:"prober"`
			}
			_ = json.Unmarshal(body, &b) // unauthenticated: for the log only
			prober = b.Prober
		}
		log.Warn("peer request refused", "prober", prober, "remote", remoteHost(r), "path", r.URL.Path, "reason", err)
		writeError(w, http.StatusUnauthorized, "unauthorized: "+err.Error())
		return nil, false
	}
	return body, true
}

func remoteHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
