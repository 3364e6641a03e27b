package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/meridian-gslb/meridian/store"
)

// streamHeartbeat: a comment line this often keeps proxies from closing an idle stream.
const streamHeartbeat = 15 * time.Second

// streamBacklog is how many past events a new subscriber gets, oldest first.
const streamBacklog = 50

// stream serves GET /api/v1/stream, Server-Sent Events for the dashboard:
//
//	event: services  data: {"services": [...]} as GET /api/v1/services, at connect and on every change
//	event: event     data: one event as GET /api/v1/events shows it; id: its seq
//	event: stats     data: as GET /api/v1/stats, the whole series at connect ("full": true),
//	                 then each new point (a series of one) as the sampler takes it, every second
//
// At connect it sends the services, then the last streamBacklog events. Nothing polls: it
// waits on the View's Changed channel (the events of a change are committed before its View is
// published), on the history growing elsewhere (Server.EventsChanged: a cluster's other
// nodes), on a config reload (Server.Reloaded) and on the sampler's next point.
func (a *api) stream(w http.ResponseWriter, r *http.Request) {
	ctx, sw := a.sse(w, r)
	var lastSvc []byte
	sendServices := func() error {
		b, err := json.Marshal(map[string]any{"services": a.svc.Services()})
		if err != nil || bytes.Equal(b, lastSvc) {
			return err
		}
		lastSvc = b
		_, err = fmt.Fprintf(sw, "event: services\ndata: %s\n\n", b)
		return err
	}
	var lastSeq uint64
	sendEvents := func(evs []store.Event) error {
		for _, e := range evs {
			b, err := json.Marshal(toEventJSON(e))
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(sw, "event: event\nid: %d\ndata: %s\n\n", e.Seq, b); err != nil {
				return err
			}
			lastSeq = max(lastSeq, e.Seq)
		}
		return nil
	}

	newEvents := func() []store.Event {
		evs, err := a.h.Events(store.EventQuery{After: lastSeq, Limit: store.MaxEventLimit})
		if err != nil {
			a.log.Error("stream: read events", "err", err)
		}
		return evs
	}

	var statsSeq uint64
	sendStats := func(full bool) error {
		if a.sampler == nil {
			return nil
		}
		k := statsPoints
		if !full {
			k = 1
		}
		st := a.sampler.snapshot(k)
		if !full && st.Seq == statsSeq {
			return nil
		}
		if !full && st.Seq != statsSeq+1 { // missed points: send them all
			st = a.sampler.snapshot(statsPoints)
		}
		statsSeq = st.Seq
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(sw, "event: stats\ndata: %s\n\n", b)
		return err
	}

	view := a.h.View()
	reloaded, history := a.reloaded.Wait(), a.history.Wait()
	var sampled <-chan struct{} // nil without a sampler: never ready
	if a.sampler != nil {
		sampled = a.sampler.sampled.Wait()
	}
	backlog, err := a.h.Events(store.EventQuery{Reverse: true, Limit: streamBacklog})
	if err != nil {
		a.log.Error("stream: read events", "err", err)
	}
	slices.Reverse(backlog)
	if sendServices() != nil || sendEvents(backlog) != nil || sendStats(true) != nil || sw.Flush() != nil {
		return
	}

	for {
		select {
		case <-ctx.Done():
			return
		case <-view.Changed():
			view = a.h.View()
			if sendEvents(newEvents()) != nil || sendServices() != nil {
				return
			}
		case <-history:
			history = a.history.Wait()
			if sendEvents(newEvents()) != nil {
				return
			}
		case <-reloaded:
			reloaded = a.reloaded.Wait()
			if sendServices() != nil {
				return
			}
		case <-sampled:
			sampled = a.sampler.sampled.Wait()
			if sendStats(false) != nil {
				return
			}
		}
		if sw.Flush() != nil {
			return
		}
	}
}

// sse begins an event stream reply and returns what its events are written to. The context
// ends with the request, at the server's shutdown, or when a heartbeat cannot be written. A
// heartbeat (a comment line) goes out every streamHeartbeat: it keeps proxies in between from
// closing a quiet stream, and tells a follower the node is there.
func (a *api) sse(w http.ResponseWriter, r *http.Request) (context.Context, *sseWriter) {
	rc := http.NewResponseController(w)
	// The server's ReadTimeout bounds reading a request; past it, net/http's background read
	// of the connection would fail and cancel a stream that is meant to last.
	_ = rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sw := &sseWriter{w: w, rc: rc}
	ctx, cancel := context.WithCancel(r.Context()) // ends when the handler returns
	go func() {
		defer cancel()
		beat := time.NewTicker(streamHeartbeat)
		defer beat.Stop()
		for {
			select {
			case <-a.stop:
				return
			case <-ctx.Done():
				return
			case <-beat.C:
				if _, err := fmt.Fprint(sw, ": heartbeat\n\n"); err != nil || sw.Flush() != nil {
					return
				}
			}
		}
	}()
	return ctx, sw
}

// sseWriter serialises an event stream's writes: the handler's events and the heartbeats.
// An event is written with one Write (fmt.Fprintf), so the two never interleave.
type sseWriter struct {
	mu sync.Mutex
	w  io.Writer
	rc *http.ResponseController
}

func (s *sseWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// Flush sends what was written.
func (s *sseWriter) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rc.Flush()
}
