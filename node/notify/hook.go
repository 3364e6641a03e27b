package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-gslb/meridian/config"
)

// Results of a delivery (meridian_notify_deliveries_total{result}).
const (
	resultOK       = "ok"       // a 2xx answer
	resultFailed   = "failed"   // no 2xx after every retry: errors, timeouts, 5xx, 408, 429
	resultRejected = "rejected" // any other answer (4xx, a redirect): not retried
)

// settings are one webhook's config with its secret read.
type settings struct {
	config.Notify
	secret []byte // nil: unsigned
}

func (s *settings) wants(kind string) bool { return slices.Contains(s.Events, kind) }

// hook is one webhook: its queue and the sender that empties it. A reload that keeps its name
// swaps its settings and keeps its queue.
type hook struct {
	name     string
	settings atomic.Pointer[settings]
	q        queue
	cancel   context.CancelFunc // nil until it runs
	dropping atomic.Bool        // the last push was dropped: log the next drop streak once
}

// queue is a bounded FIFO whose bound a reload may change.
type queue struct {
	mu    sync.Mutex
	items []*Notification
	max   int
	ready chan struct{} // signalled after a push
}

func (q *queue) init(max int) {
	q.max, q.ready = max, make(chan struct{}, 1)
}

// push adds n unless the queue is full; it never blocks.
func (q *queue) push(n *Notification) bool {
	q.mu.Lock()
	if len(q.items) >= q.max {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, n)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// pop waits for the oldest notification; false once ctx ends.
func (q *queue) pop(ctx context.Context) (*Notification, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			n := q.items[0]
			q.items[0] = nil
			q.items = q.items[1:]
			q.mu.Unlock()
			return n, true
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, false
		case <-q.ready:
		}
	}
}

func (q *queue) setMax(max int) {
	q.mu.Lock()
	q.max = max // what is queued beyond it is still sent
	q.mu.Unlock()
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// sender delivers h's notifications one at a time until ctx ends.
type sender struct {
	h      *hook
	client *http.Client
	log    *slog.Logger
	m      *metrics
	now    func() time.Time
}

func (s *sender) run(ctx context.Context) {
	var last time.Time
	for {
		n, ok := s.h.q.pop(ctx)
		if !ok {
			return
		}
		set := s.h.settings.Load()
		if wait := set.MinInterval - s.now().Sub(last); !last.IsZero() && wait > 0 && !sleep(ctx, wait) {
			return
		}
		res := s.deliver(ctx, n, set)
		if res == "" { // stopped meanwhile
			return
		}
		last = s.now()
		s.m.deliveries.WithLabelValues(s.h.name, res).Inc()
	}
}

// deliver sends n until a 2xx, a refusal, or the last retry; "" when ctx ended first.
func (s *sender) deliver(ctx context.Context, n *Notification, set *settings) string {
	log := s.log.With("notify", set.Name, "url", set.URL.Redacted(), "type", n.Type, "id", n.ID)
	body, err := encode(n, set.Format)
	if err != nil { // a Notification always encodes; kept for the shape
		log.Error("notification not encoded", "err", err)
		return resultRejected
	}
	for attempt := 0; ; attempt++ {
		status, retryAfter, err := s.post(ctx, set, n, body)
		if ctx.Err() != nil {
			return ""
		}
		switch {
		case err == nil && status/100 == 2:
			log.Debug("notification delivered", "attempts", attempt+1)
			return resultOK
		case err == nil && !retryable(status):
			log.Warn("notification refused; not retried", "status", status, "attempts", attempt+1)
			return resultRejected
		case err == nil:
			err = fmt.Errorf("answered %d", status)
		}
		if attempt >= set.Retries {
			log.Warn("notification not delivered", "attempts", attempt+1, "err", err)
			return resultFailed
		}
		wait := backoff(set, attempt, retryAfter)
		log.Debug("notification attempt failed; retrying", "attempt", attempt+1, "in", wait, "err", err)
		if !sleep(ctx, wait) {
			return ""
		}
	}
}

// post makes one attempt: its status, the Retry-After it asked for (0: none) or the error.
func (s *sender) post(ctx context.Context, set *settings, n *Notification, body []byte) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, set.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, string(set.URL), bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "meridian-notify")
	req.Header.Set(HeaderDelivery, n.ID)
	req.Header.Set(HeaderEvent, n.Type)
	if set.secret != nil {
		ts := s.now().Unix()
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(HeaderSignature, "sha256="+Sign(set.secret, ts, body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			ue.URL = set.URL.Redacted() // the log must not show a secret path
		}
		return 0, 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection is reused
	resp.Body.Close()
	var after time.Duration
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		after = time.Duration(secs) * time.Second
	}
	return resp.StatusCode, after, nil
}

// retryable says whether an answer may go better later: 5xx, 408 and 429.
func retryable(status int) bool {
	return status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests
}

// backoff is the wait before retry attempt+1: Backoff × 2^attempt capped at MaxBackoff, a
// random half of it off (jitter, so that webhooks failed together do not retry together), or
// the receiver's Retry-After when it asked for longer, within MaxBackoff too.
func backoff(set *settings, attempt int, retryAfter time.Duration) time.Duration {
	d := set.MaxBackoff
	if attempt < 30 {
		d = min(set.Backoff<<attempt, set.MaxBackoff)
	}
	d -= rand.N(d/2 + 1)
	return max(d, min(retryAfter, set.MaxBackoff))
}

// sleep waits d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
