package peer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/meridian-gslb/meridian/proxy/feedback"
)

// FeedbackPath is where a node takes remote proxies' reports.
const FeedbackPath = "/api/v1/peer/feedback"

// FeedbackHandler receives a remote proxy's signed feedback.Report (JSON) and records it in
// sink. It answers 401 to a bad signature or timestamp, 400 to a malformed report (no proxy,
// an RTT prefix that is not a client /24 or /48, a negative value), 500 when sink fails,
// else 200 {"rtts": n, "loads": m}. now is the clock for the replay window.
func FeedbackHandler(sink feedback.Sink, secret []byte, log *slog.Logger, now func() time.Time) http.Handler {
	if now == nil {
		now = time.Now
	}
	log = log.With("component", "peer")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := readSigned(w, r, secret, log, now)
		if !ok {
			return
		}
		var rep feedback.Report
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&rep); err != nil {
			writeError(w, http.StatusBadRequest, "bad report: "+err.Error())
			return
		}
		if err := checkReport(rep); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := sink.Record(r.Context(), rep); err != nil {
			log.Error("recording proxy feedback failed", "proxy", rep.Proxy, "err", err)
			writeError(w, http.StatusInternalServerError, "record: "+err.Error())
			return
		}
		log.Debug("recorded proxy feedback", "proxy", rep.Proxy, "region", rep.Region, "remote", remoteHost(r),
			"rtts", len(rep.RTTs), "loads", len(rep.Load))
		writeJSON(w, http.StatusOK, map[string]int{"rtts": len(rep.RTTs), "loads": len(rep.Load)})
	})
}

// checkReport says what is wrong with a report, or nil.
func checkReport(rep feedback.Report) error {
	if rep.Proxy == "" {
		return errors.New("report names no proxy")
	}
	if len(rep.RTTs) > 0 && rep.Region == "" {
		return errors.New("report has RTTs but names no region")
	}
	for i, p := range rep.RTTs {
		if !p.Prefix.IsValid() || p.Prefix != feedback.ClientPrefix(p.Prefix.Addr()) {
			return fmt.Errorf("rtts[%d]: prefix %s is not a client /%d or /%d", i, p.Prefix, feedback.Bits4, feedback.Bits6)
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

// FeedbackPusher is the feedback.Sink of a remote proxy: Record posts the report, signed, to
// every node at once. A report that fails to reach a node is not queued: the next one
// replaces it.
type FeedbackPusher struct {
	urls   []string
	secret []byte
	c      *http.Client
	now    func() time.Time
}

var _ feedback.Sink = (*FeedbackPusher)(nil)

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
func (p *FeedbackPusher) Record(ctx context.Context, r feedback.Report) error {
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
