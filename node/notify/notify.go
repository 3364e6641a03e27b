package notify

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/store"
)

// Source is what a Notifier reads of the store: *store.Store is one.
type Source interface {
	View() *store.View
	Events(q store.EventQuery) ([]store.Event, error)
}

// Options configure a Notifier; the zero value is usable.
type Options struct {
	Logger     *slog.Logger          // default: discard
	Registerer prometheus.Registerer // nil: no metrics registered
	// Client sends the requests; default: one that follows no redirect (a 3xx is refused).
	// Each attempt is bounded by its webhook's timeout whatever the client's.
	Client *http.Client
	Now    func() time.Time // signature timestamps and min_interval; default time.Now
}

// Notifier sends the transitions of one store to the config's webhooks.
type Notifier struct {
	src    Source
	log    *slog.Logger
	m      *metrics
	client *http.Client
	now    func() time.Time

	mu       sync.Mutex
	hooks    map[string]*hook
	list     []*hook // the hooks in config order; replaced whole, never modified
	model    *model
	reloaded chan struct{} // closed by the next Commit
	ctx      context.Context
	stopped  bool // Run has returned or is waiting for the senders: start none
	wg       sync.WaitGroup

	lastSeq uint64 // the newest event read; owned by Run once it runs
	// base is the pools and services when New returned, as baseModel judged them: Run's
	// first round is judged against them.
	base      *states
	baseModel *model
}

// New makes a Notifier for cfg's [[notify]] webhooks over src. Transitions committed before
// it are not sent: it starts from src's newest event.
func New(cfg *config.Config, src Source, o Options) (*Notifier, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	n := &Notifier{src: src, log: o.Logger.With("component", "notify"), m: newMetrics(o.Registerer), client: o.Client,
		now: o.Now, hooks: map[string]*hook{}, reloaded: make(chan struct{})}
	evs, err := src.Events(store.EventQuery{Reverse: true, Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	if len(evs) > 0 {
		n.lastSeq = evs[0].Seq
	}
	p, err := n.Prepare(cfg)
	if err != nil {
		return nil, err
	}
	p.Commit()
	n.baseModel = n.model
	n.base = n.model.derive(src.View())
	return n, nil
}

// Prepared is a config's webhooks, their secrets read, not yet in use.
type Prepared struct {
	n    *Notifier
	m    *model
	sets []*settings
}

// Prepare reads the secrets of cfg's webhooks; Commit then puts them in use.
func (n *Notifier) Prepare(cfg *config.Config) (*Prepared, error) {
	p := &Prepared{n: n, m: newModel(cfg)}
	for _, c := range cfg.Notify {
		s := &settings{Notify: c}
		if c.SecretFile != "" {
			sec, err := config.ReadSecret(c.SecretFile)
			if err != nil {
				return nil, fmt.Errorf("[[notify]] %s: secret_file: %w", c.Name, err)
			}
			s.secret = []byte(sec)
		}
		p.sets = append(p.sets, s)
	}
	return p, nil
}

// Commit makes p's webhooks the Notifier's. A webhook whose name stays keeps its queue and
// takes the new settings from its next notification; a removed one stops, and what it had
// queued is not sent. Pools and services follow the new config from the next change.
func (p *Prepared) Commit() {
	n := p.n
	n.mu.Lock()
	defer n.mu.Unlock()
	next := make(map[string]*hook, len(p.sets))
	list := make([]*hook, 0, len(p.sets))
	for _, s := range p.sets {
		h := n.hooks[s.Name]
		if h == nil {
			h = &hook{name: s.Name}
			h.q.init(s.Queue)
			h.settings.Store(s)
			n.m.add(s.Name)
			n.start(h)
		} else {
			h.settings.Store(s)
			h.q.setMax(s.Queue)
		}
		next[s.Name] = h
		list = append(list, h)
	}
	for name, h := range n.hooks {
		if next[name] != nil {
			continue
		}
		if h.cancel != nil {
			h.cancel()
		}
		if q := h.q.len(); q > 0 {
			n.log.Info("webhook removed from the config; its queued notifications are not sent", "notify", name, "queued", q)
		}
		n.m.remove(name)
	}
	n.hooks, n.list, n.model = next, list, p.m
	close(n.reloaded)
	n.reloaded = make(chan struct{})
}

// start runs h's sender once Run runs; n.mu is held.
func (n *Notifier) start(h *hook) {
	if n.ctx == nil || n.stopped {
		return
	}
	ctx, cancel := context.WithCancel(n.ctx)
	h.cancel = cancel
	s := &sender{h: h, client: n.client, log: n.log, m: n.m, now: n.now}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		s.run(ctx)
	}()
}

// Run follows the store until ctx ends, then waits for the senders to stop. Queued
// notifications are not kept across a restart.
func (n *Notifier) Run(ctx context.Context) error {
	n.mu.Lock()
	n.ctx = ctx
	for _, h := range n.list {
		n.start(h)
	}
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.stopped = true
		n.mu.Unlock()
		n.wg.Wait()
	}()
	prev, prevModel := n.base, n.baseModel
	for {
		n.mu.Lock()
		m, reloaded := n.model, n.reloaded
		n.mu.Unlock()
		v := n.src.View() // before the events: a change after it wakes the next round
		notes, more, err := n.endpointNotes(m)
		var retry <-chan time.Time
		if err != nil {
			n.log.Warn("events not read; retrying", "err", err)
			retry = time.After(time.Second)
		}
		next := m.derive(v)
		notes = append(notes, m.changes(prev, next, v, m != prevModel)...)
		prev, prevModel = next, m
		n.dispatch(notes)
		if more && ctx.Err() == nil {
			continue // a full page: read the next at once
		}
		select {
		case <-ctx.Done():
			return nil
		case <-v.Changed():
		case <-reloaded:
		case <-retry:
		}
	}
}

// endpointNotes reads the events committed since the last read (a page) as notifications;
// more says the page was full.
func (n *Notifier) endpointNotes(m *model) (notes []*Notification, more bool, err error) {
	evs, err := n.src.Events(store.EventQuery{After: n.lastSeq, Limit: store.MaxEventLimit})
	if err != nil {
		return nil, false, err
	}
	for _, e := range evs {
		n.lastSeq = e.Seq
		if note := m.endpointNote(e); note != nil {
			notes = append(notes, note)
		}
	}
	return notes, len(evs) == store.MaxEventLimit, nil
}

// dispatch queues each notification on every webhook that wants its kind. It never blocks:
// a full queue drops it, counted, and logged once per streak of drops.
func (n *Notifier) dispatch(notes []*Notification) {
	if len(notes) == 0 {
		return
	}
	n.mu.Lock()
	hooks := n.list
	n.mu.Unlock()
	for _, note := range notes {
		note.ID = rand.Text()
		n.log.Debug("transition", "type", note.Type, "target", note.Target, "pool", note.Pool, "service", note.Service,
			"from", note.From, "to", note.To, "id", note.ID)
		for _, h := range hooks {
			set := h.settings.Load()
			if !set.wants(note.Type) {
				continue
			}
			if h.q.push(note) {
				h.dropping.Store(false)
				continue
			}
			n.m.dropped.WithLabelValues(h.name).Inc()
			if !h.dropping.Swap(true) {
				n.log.Warn("notification queue full; dropping notifications until it drains", "notify", h.name,
					"url", set.URL.Redacted(), "queue", set.Queue)
			}
		}
	}
}
