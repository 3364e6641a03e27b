package peer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/meridian-gslb/meridian/health"
)

// maxBody bounds a request body: a batch of observations or feedback (a plan: maxPlan).
const maxBody = 8 << 20

// Bounds on the names in a batch, so that one batch cannot make the store write rows of
// megabytes (the region is copied into every observation's row) or keys bbolt refuses.
const (
	maxTargetLen = 1024
	maxNameLen   = 256 // prober and region
)

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

// batchReply is the body of a 200 answer to a batch.
type batchReply struct {
	Recorded int `json:"recorded"`
	Rejected int `json:"rejected,omitempty"` // observations of targets the node does not know
}

func toWire(o health.Observation) ObservationJSON {
	return ObservationJSON{Target: o.Target, Up: o.Up, Undecided: o.Undecided,
		RTTns: int64(o.RTT), Err: o.Err, At: o.At}
}

// recordConcurrency bounds the Records of one batch in flight, so the store can group them
// into few commits.
const recordConcurrency = 32

// Handler is NewReceiver(ReceiverOptions{Secret: secret, Logger: log, Now: now}).Observations(sink):
// a handler with its own replay cache, which records every target.
func Handler(sink health.Sink, secret []byte, log *slog.Logger, now func() time.Time) http.Handler {
	return NewReceiver(ReceiverOptions{Secret: secret, Logger: log, Now: now}).Observations(sink)
}

// Observations receives signed batches of observations and records each in sink. It answers
// 401 (and logs why) to a request whose signature or timestamp is wrong or which repeats an
// accepted one, 400 to a malformed batch, 500 when sink fails, else 200
// {"recorded": n, "rejected": m}: observations of targets that are not Known are left out and
// counted in m (the key is omitted when m is 0).
func (rv *Receiver) Observations(sink health.Sink) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := rv.readSigned(w, r)
		if !ok {
			return
		}
		var b Batch
		if err := json.Unmarshal(body, &b); err != nil {
			writeError(w, http.StatusBadRequest, "bad batch: "+err.Error())
			return
		}
		if err := checkBatch(b); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		t := rv.o.Now()
		obs := make([]health.Observation, 0, len(b.Observations))
		rejected, example := 0, ""
		for _, o := range b.Observations {
			if !rv.known(o.Target) {
				if rejected++; example == "" {
					example = o.Target
				}
				continue
			}
			at := o.At
			if at.IsZero() || at.After(t) { // a clock ahead must not keep a report fresh
				at = t
			}
			obs = append(obs, health.Observation{Target: o.Target, Prober: b.Prober, Region: b.Region, Up: o.Up,
				Undecided: o.Undecided, RTT: time.Duration(o.RTTns), Err: o.Err, At: at})
		}
		if rejected > 0 {
			rv.m.rejectedObs.WithLabelValues(reasonUnknownTarget).Add(float64(rejected))
			rv.log.Warn("observations of unknown targets not recorded", "prober", b.Prober, "remote", remoteHost(r),
				"count", rejected, "example", clip(example))
		}
		if err := recordAll(r.Context(), sink, obs); err != nil {
			rv.log.Error("recording remote observations failed", "prober", b.Prober, "err", err)
			writeError(w, http.StatusInternalServerError, "record: "+err.Error())
			return
		}
		rv.log.Debug("recorded remote observations", "prober", b.Prober, "remote", r.RemoteAddr, "n", len(obs))
		writeJSON(w, http.StatusOK, batchReply{Recorded: len(obs), Rejected: rejected})
	})
}

// checkBatch says what is wrong with a batch, or nil.
func checkBatch(b Batch) error {
	if b.Prober == "" {
		return fmt.Errorf("batch names no prober")
	}
	if err := checkName("prober", b.Prober, maxNameLen); err != nil {
		return err
	}
	if len(b.Region) > maxNameLen {
		return fmt.Errorf("region is %d bytes, at most %d", len(b.Region), maxNameLen)
	}
	for i, o := range b.Observations {
		if o.Prober != "" && o.Prober != b.Prober {
			return fmt.Errorf("observations[%d]: prober %.64q is not the batch's %.64q", i, o.Prober, b.Prober)
		}
		if o.Target == "" {
			return fmt.Errorf("observations[%d]: no target", i)
		}
		if err := checkName("target", o.Target, maxTargetLen); err != nil {
			return fmt.Errorf("observations[%d]: %w", i, err)
		}
		// The store keeps times as JSON, years 0 to 9999 in UTC, and refuses others: answered
		// 400 here, so that a prober with a broken clock does not retry them for ever.
		if y := o.At.UTC().Year(); y < 0 || y > 9999 {
			return fmt.Errorf("observations[%d]: at %s is outside the years 0 to 9999 (UTC)", i, o.At)
		}
	}
	return nil
}

// checkName refuses a name the store cannot key a row by: too long, or holding NUL.
func checkName(what, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s is %d bytes, at most %d", what, len(s), max)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%s %.64q contains NUL", what, s)
	}
	return nil
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
	setJSONHeaders(w.Header())
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func setJSONHeaders(h http.Header) {
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
