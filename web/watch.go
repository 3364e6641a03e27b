package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/store"
)

// WatchPath streams the endpoints as proxies treat them; a `meridian proxy -node` follows it.
const WatchPath = "/api/v1/endpoints?watch=true"

// EndpointState is one endpoint as a proxy treats it (store.View.ProxyState): a drained
// endpoint keeps its probers' verdict and says "drain".
type EndpointState struct {
	State    health.State
	Override string // "drain", "force-down", "force-up" or ""
}

// watchedJSON is one endpoint in a watch event.
type watchedJSON struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Override string `json:"override,omitempty"`
}

// watchJSON is the data of one watch event: every endpoint when Full (the first event of a
// stream), else those that changed; an endpoint gone from the node is sent as "unknown".
type watchJSON struct {
	Version   uint64        `json:"version"`
	Full      bool          `json:"full,omitempty"`
	Endpoints []watchedJSON `json:"endpoints"`
}

// watchEndpoints serves GET /api/v1/endpoints?watch=true, Server-Sent Events:
//
//	event: endpoints  data: {"version": N, "full": true, "endpoints": [{"id", "state", "override"}, ...]}
//
// then one event per change of the store's View (waiting on View.Changed, nothing polls) with
// the endpoints whose state as a proxy treats it changed, and a comment line every
// streamHeartbeat so the follower can tell a dead connection from a quiet node.
func (a *api) watchEndpoints(w http.ResponseWriter, r *http.Request) {
	ctx, sw := a.sse(w, r)
	sent := map[string]EndpointState{}
	send := func(v *store.View, full bool) error {
		ev := watchJSON{Version: v.Version(), Full: full, Endpoints: []watchedJSON{}}
		seen := make(map[string]bool, len(sent))
		for _, id := range v.Targets() {
			st, k := v.ProxyState(id)
			es := EndpointState{State: st}
			if k != store.None {
				es.Override = k.String()
			}
			seen[id] = true
			if old, ok := sent[id]; ok && old == es && !full {
				continue
			}
			sent[id] = es
			ev.Endpoints = append(ev.Endpoints, watchedJSON{ID: id, State: st.String(), Override: es.Override})
		}
		for id := range sent {
			if !seen[id] {
				delete(sent, id)
				ev.Endpoints = append(ev.Endpoints, watchedJSON{ID: id, State: health.Unknown.String()})
			}
		}
		if !full && len(ev.Endpoints) == 0 {
			return nil
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(sw, "event: endpoints\ndata: %s\n\n", b); err != nil {
			return err
		}
		return sw.Flush()
	}
	view := a.h.View()
	if send(view, true) != nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-view.Changed():
			view = a.h.View()
			if send(view, false) != nil {
				return
			}
		}
	}
}

// Follower follows a node's endpoint states over its watch stream (WatchPath): a standalone
// proxy's health when it runs with -node.
type Follower struct {
	Base   string       // the node's HTTP base URL, without a trailing slash
	Client *http.Client // without a Timeout: the stream is meant to last; nil: a default one
	Log    *slog.Logger
	// Idle ends a connection that sent nothing, not even a heartbeat, for this long (0: three
	// heartbeats), and Retry is the wait before connecting again (0: one second).
	Idle, Retry time.Duration
}

// Run connects and calls apply with every endpoint's state after each event, until ctx ends.
// When the stream breaks it keeps the last states (apply is not called), logs it once, and
// connects again.
func (f *Follower) Run(ctx context.Context, apply func(map[string]EndpointState)) {
	c := f.Client
	if c == nil {
		c = &http.Client{}
	}
	if f.Log == nil {
		f.Log = slog.New(slog.DiscardHandler)
	}
	idle, retry := f.Idle, f.Retry
	if idle <= 0 {
		idle = 3 * streamHeartbeat
	}
	if retry <= 0 {
		retry = time.Second
	}
	failing := false
	for ctx.Err() == nil {
		err := f.follow(ctx, c, idle, apply, func() {
			if failing {
				f.Log.Info("following the node's endpoint states again", "node", f.Base)
			}
			failing = false
		})
		if ctx.Err() != nil {
			return
		}
		if !failing {
			f.Log.Warn("lost the node's endpoint states; keeping the last ones", "node", f.Base, "err", err)
			failing = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(retry):
		}
	}
}

// follow reads one stream until it breaks; connected is called at its first event.
func (f *Follower) follow(ctx context.Context, c *http.Client, idle time.Duration, apply func(map[string]EndpointState), connected func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var quiet atomic.Bool // the watchdog ended the connection
	watchdog := time.AfterFunc(idle, func() { quiet.Store(true); cancel() })
	defer watchdog.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.Base+WatchPath, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", req.URL, resp.Status)
	}
	states := map[string]EndpointState{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 64<<20) // a full event lists every endpoint
	var event string
	for sc.Scan() {
		watchdog.Reset(idle)
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data: ") && event == "endpoints":
			var ev watchJSON
			if err := json.Unmarshal([]byte(line[len("data: "):]), &ev); err != nil {
				return fmt.Errorf("GET %s: %w", req.URL, err)
			}
			if ev.Full {
				states = map[string]EndpointState{}
			}
			for _, e := range ev.Endpoints {
				st := health.ParseState(e.State)
				if st == health.Unknown && e.Override == "" {
					delete(states, e.ID)
					continue
				}
				states[e.ID] = EndpointState{State: st, Override: e.Override}
			}
			if ev.Full {
				connected()
			}
			apply(states)
		case line == "":
			event = ""
		}
	}
	if quiet.Load() {
		return fmt.Errorf("GET %s: nothing, not even a heartbeat, for %s", req.URL, idle)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF // the node closed the stream (shutdown, restart)
}
