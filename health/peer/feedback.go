package peer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meridian-gslb/meridian/health/measure"
)

// FeedbackPath is where a node takes remote proxies' reports.
const FeedbackPath = "/api/v1/peer/feedback"

// FeedbackHandler is NewReceiver(ReceiverOptions{Secret: secret, Logger: log, Now: now}).Feedback(sink):
// a handler with its own replay cache, which records every backend.
func FeedbackHandler(sink measure.Sink, secret []byte, log *slog.Logger, now func() time.Time) http.Handler {
	return NewReceiver(ReceiverOptions{Secret: secret, Logger: log, Now: now}).Feedback(sink)
}

// feedbackReply is the body of a 200 answer to a report.
type feedbackReply struct {
	RTTs     int `json:"rtts"`
	Loads    int `json:"loads"`
	Rejected int `json:"rejected,omitempty"` // loads of backends the node does not know
}

// Feedback receives a remote proxy's signed measure.Report (JSON) and records it in sink. It
// answers 401 to a bad signature or timestamp or a replayed request, 400 to a malformed report
// (no proxy, an RTT prefix that is not a client /24 or /48, a negative value), 500 when sink
// fails, else 200 {"rtts": n, "loads": m, "rejected": k}: the loads of backends that are not
// KnownBackend are left out and counted in k (omitted when 0).
func (rv *Receiver) Feedback(sink measure.Sink) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := rv.readSigned(w, r)
		if !ok {
			return
		}
		var rep measure.Report
		if err := json.Unmarshal(body, &rep); err != nil {
			writeError(w, http.StatusBadRequest, "bad report: "+err.Error())
			return
		}
		if err := checkReport(rep); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		rejected, example := 0, ""
		rep.Load = slices.DeleteFunc(rep.Load, func(l measure.BackendLoad) bool {
			if rv.knownBackend(l.ID) {
				return false
			}
			if rejected++; example == "" {
				example = l.ID
			}
			return true
		})
		if rejected > 0 {
			rv.m.rejectedLoads.WithLabelValues(reasonUnknownTarget).Add(float64(rejected))
			rv.log.Warn("loads of unknown backends not recorded", "proxy", clip(rep.Proxy), "remote", remoteHost(r),
				"count", rejected, "example", clip(example))
		}
		if err := sink.Record(r.Context(), rep); err != nil {
			rv.log.Error("recording proxy feedback failed", "proxy", clip(rep.Proxy), "err", err)
			writeError(w, http.StatusInternalServerError, "record: "+err.Error())
			return
		}
		rv.log.Debug("recorded proxy feedback", "proxy", clip(rep.Proxy), "region", clip(rep.Region), "remote", remoteHost(r),
			"rtts", len(rep.RTTs), "loads", len(rep.Load))
		writeJSON(w, http.StatusOK, feedbackReply{RTTs: len(rep.RTTs), Loads: len(rep.Load), Rejected: rejected})
	})
}

// checkReport says what is wrong with a report, or nil.
func checkReport(rep measure.Report) error {
	if rep.Proxy == "" {
		return errors.New("report names no proxy")
	}
	if len(rep.Proxy) > maxNameLen || len(rep.Region) > maxNameLen {
		return fmt.Errorf("proxy or region is longer than %d bytes", maxNameLen)
	}
	if len(rep.RTTs) > 0 && rep.Region == "" {
		return errors.New("report has RTTs but names no region")
	}
	for i, p := range rep.RTTs {
		if !p.Prefix.IsValid() || p.Prefix != measure.ClientPrefix(p.Prefix.Addr()) {
			return fmt.Errorf("rtts[%d]: prefix %s is not a client /%d or /%d", i, p.Prefix, measure.Bits4, measure.Bits6)
		}
		if p.RTT <= 0 {
			return fmt.Errorf("rtts[%d]: rtt_ns %d, want > 0", i, p.RTT)
		}
	}
	for i, l := range rep.Load {
		if l.ID == "" || l.InFlight < 0 {
			return fmt.Errorf("load[%d]: want an id and in_flight >= 0", i)
		}
	}
	return nil
}

// FeedbackPusher is the measure.Sink of a remote proxy: Record posts the report, signed, to
// every node at once. A report that fails to reach a node is not queued: the next one
// replaces it.
type FeedbackPusher struct {
	urls   []string
	secret []byte
	c      *http.Client
	now    func() time.Time
}

var _ measure.Sink = (*FeedbackPusher)(nil)

// NewFeedbackPusher returns a pusher to nodes (base URLs such as "http://10.0.0.1:8080").
func NewFeedbackPusher(nodes []string, secret []byte, c *http.Client) *FeedbackPusher {
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Second}
	}
	p := &FeedbackPusher{secret: secret, c: c, now: time.Now}
	for _, n := range nodes {
		p.urls = append(p.urls, strings.TrimRight(n, "/")+FeedbackPath)
	}
	return p
}

// Record sends r to every node and returns what failed, node by node.
func (p *FeedbackPusher) Record(ctx context.Context, r measure.Report) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	errs := make([]error, len(p.urls))
	var wg sync.WaitGroup
	for i, u := range p.urls {
		wg.Go(func() {
			if err := p.post(ctx, u, body); err != nil {
				errs[i] = fmt.Errorf("%s: %w", u, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (p *FeedbackPusher) post(ctx context.Context, url string, body []byte) error {
	return postSigned(ctx, p.c, url, p.secret, p.now(), body)
}
