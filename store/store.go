package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-gslb/meridian/health"
	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrClosed is returned by writes to a closed Store.
var ErrClosed = errors.New("store closed")

// Options tune a Store; the zero value is usable.
type Options struct {
	Timeout   time.Duration    // how long Open waits for the file lock; default 1s
	Retention int              // transition events kept, oldest deleted first; default 10000
	Now       func() time.Time // default time.Now
	Logger    *slog.Logger     // default: discard
	// BatchDelay is the longest a write waits for concurrent writes to join its commit; a
	// write with no other writer in flight commits at once. Default 10ms; negative: no wait.
	BatchDelay time.Duration
	// CheckInterval is how often reports are checked for having gone stale when no new report
	// arrives. Default 500ms.
	CheckInterval time.Duration
	// ReportExpiry: a prober's report on a target older than this is deleted (from the View
	// and the file) by a sweep the committer runs every minute once rules are set, so a prober
	// that went away, or reported on a target no rule names, leaves no trace. A report that
	// still votes under its target's rule is kept however old. Default 10 minutes; negative:
	// reports never expire.
	ReportExpiry time.Duration
	Registerer   prometheus.Registerer // nil: no metrics registered
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = time.Second
	}
	if o.Retention <= 0 {
		o.Retention = 10000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.BatchDelay == 0 {
		o.BatchDelay = 10 * time.Millisecond
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = 500 * time.Millisecond
	}
	if o.ReportExpiry == 0 {
		o.ReportExpiry = DefaultReportExpiry
	}
}

// DefaultReportExpiry is Options.ReportExpiry's default.
const DefaultReportExpiry = 10 * time.Minute

// maxBatch bounds the writes grouped into one commit.
const maxBatch = 1024

// Store is the durable health state and its read model. One goroutine (the committer) owns
// every change: it groups writes into one bbolt transaction, evaluates the targets they touch,
// and publishes a new View once the transaction has committed.
type Store struct {
	db   *bolt.DB
	path string
	o    Options
	log  *slog.Logger
	m    *metrics
	view atomic.Pointer[View]

	reqs      chan *request
	pending   atomic.Int64 // writers that have not yet handed their request to the committer
	quit      chan struct{}
	exited    chan struct{}
	closeOnce sync.Once
	closeErr  error

	// owned by the committer
	rules  map[string]Rule // nil until SetRules
	events int             // keys in the events bucket
	dirty  bool            // a commit failed: re-evaluate everything at the next check
	// nextSweep is when the ticker next deletes expired reports (expire.go); zero: at the
	// first tick after SetRules.
	nextSweep time.Time
}

type reqKind uint8

const (
	reqObs reqKind = iota
	reqOverride
	reqRules
	reqCheck
	reqSweep
)

type request struct {
	kind   reqKind
	obs    Report
	target string
	ov     Override
	rules  map[string]Rule
	done   chan error // buffered: the committer never blocks on a reply
}

// Open opens (creating if needed) the state file at path, loads the persisted observations,
// states and overrides, and starts the committer. View answers from the persisted state at
// once; SetRules then lets fresh reports take over.
func Open(path string, o Options) (*Store, error) {
	o.defaults()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.Timeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open state db %s: another process has the file (lock not acquired within %s): %w", path, o.Timeout, err)
		}
		return nil, fmt.Errorf("open state db %s: %w", path, err)
	}
	s := &Store{
		db: db, path: path, o: o,
		log:    o.Logger.With("component", "store"),
		reqs:   make(chan *request, maxBatch),
		quit:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	var es map[string]*entry
	err = db.Update(func(tx *bolt.Tx) error {
		if err := unsafeInitSchema(tx); err != nil {
			return err
		}
		if es, err = unsafeLoad(tx); err != nil {
			return err
		}
		s.events = tx.Bucket(bucketEvents).Stats().KeyN
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open state db %s: %w", path, err)
	}
	for _, e := range es {
		e.state = e.ts.Override.apply(e.ts.Aggregate)
		e.ts.State = e.state
	}
	w := newTargetWriter(nil)
	for id, e := range es {
		w.set(id, e)
	}
	s.view.Store(&View{at: o.Now().UTC(), targets: w.m, ids: w.m.ids(), version: 1, changed: make(chan struct{})})
	s.m = newMetrics(o.Registerer, s)
	s.log.Info("state loaded", "path", path, "targets", len(es), "events", s.events)
	go s.run()
	return s, nil
}

// Close stops the committer after it has committed the writes already queued, and closes the
// file. Later writes return ErrClosed; View keeps answering from the last snapshot.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.exited
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("close state db %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// View returns the current snapshot. It never blocks.
func (s *Store) View() *View { return s.view.Load() }

// Record stores o as its prober's latest report on its target and re-evaluates the target.
// It returns nil once the report is committed to disk (it survives kill -9). An error other
// than from ctx means it was not stored; after ctx ends it may or may not have been. A report
// older than the one stored for the same prober and target is ignored. A zero At is now.
func (s *Store) Record(ctx context.Context, o health.Observation) error {
	if err := checkID("target", o.Target); err != nil {
		return err
	}
	if err := checkID("prober", o.Prober); err != nil {
		return err
	}
	if err := checkTime("observation time", o.At); err != nil {
		return err
	}
	return s.submit(ctx, &request{kind: reqObs, target: o.Target,
		obs: Report{Prober: o.Prober, Region: o.Region, Up: o.Up, Undecided: o.Undecided, RTT: o.RTT, Err: o.Err, At: o.At.UTC()}})
}

var _ health.Sink = (*Store)(nil)

// maxIDLen bounds a target or prober ID, so that an obs key (target\x00prober) stays well
// under bbolt's key limit: a key it refuses would fail the whole commit it is grouped in.
const maxIDLen = 4096

func checkID(what, id string) error {
	if id == "" {
		return fmt.Errorf("observation has no %s", what)
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("%s is %d bytes, at most %d", what, len(id), maxIDLen)
	}
	if strings.IndexByte(id, 0) >= 0 {
		return fmt.Errorf("%s %q contains NUL", what, id)
	}
	return nil
}

// checkTime refuses a time the state file cannot hold: its rows are JSON, whose times are the
// years 0 to 9999 in UTC. Stored, such a time would fail the whole commit it is grouped in,
// and every other write in it.
func checkTime(what string, t time.Time) error {
	if y := t.UTC().Year(); y < 0 || y > 9999 {
		return fmt.Errorf("%s %s is outside the years 0 to 9999 (UTC)", what, t)
	}
	return nil
}

// SetRules replaces the per-target rules (on config load) and re-evaluates every target; it
// returns once the new View is published. Targets without a rule are Unknown to policies
// (unless overridden); their persisted rows are kept until their reports expire
// (Options.ReportExpiry), so a reload that soon brings them back resumes from them.
func (s *Store) SetRules(rules map[string]Rule) {
	r := &request{kind: reqRules, rules: maps.Clone(rules)}
	if r.rules == nil {
		r.rules = map[string]Rule{}
	}
	if err := s.submit(context.Background(), r); err != nil {
		// The rules are in force; the committer retries publishing them at the next check.
		s.log.Warn("rules not persisted", "err", err)
	}
}

// SetOverride persists o for target; it wins over the probers until cleared. Kind None clears.
func (s *Store) SetOverride(target string, o Override) error {
	if err := checkID("target", target); err != nil {
		return err
	}
	if int(o.Kind) >= len(overrideNames) {
		return fmt.Errorf("invalid override kind %d", o.Kind)
	}
	if err := checkTime("override time", o.At); err != nil {
		return err
	}
	o.At = o.At.UTC()
	return s.submit(context.Background(), &request{kind: reqOverride, target: target, ov: o})
}

// ClearOverride removes target's override; the quorum decides again.
func (s *Store) ClearOverride(target string) error {
	return s.SetOverride(target, Override{})
}

// check re-evaluates every target now; tests use it with a fake clock.
func (s *Store) check() error {
	return s.submit(context.Background(), &request{kind: reqCheck})
}

// sweep deletes the expired reports now, as the ticker does every minute; for tests.
func (s *Store) sweep() error {
	return s.submit(context.Background(), &request{kind: reqSweep})
}

func (s *Store) submit(ctx context.Context, r *request) error {
	r.done = make(chan error, 1)
	s.pending.Add(1)
	select {
	case s.reqs <- r:
	case <-s.quit:
		s.pending.Add(-1)
		return ErrClosed
	case <-ctx.Done():
		s.pending.Add(-1)
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-s.exited:
		select {
		case err := <-r.done:
			return err
		default:
			return ErrClosed // queued after the committer's last drain
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the committer.
func (s *Store) run() {
	defer close(s.exited)
	tick := time.NewTicker(s.o.CheckInterval)
	defer tick.Stop()
	for {
		select {
		case r := <-s.reqs:
			s.commit(s.gather(r))
		case <-tick.C:
			s.commit(nil)
		case <-s.quit:
			for {
				batch := s.drain(nil)
				if len(batch) == 0 {
					return
				}
				s.commit(batch)
			}
		}
	}
}

// gather groups first with the requests of writers already on their way, waiting for them at
// most BatchDelay.
func (s *Store) gather(first *request) []*request {
	s.pending.Add(-1)
	batch := s.drain([]*request{first})
	if s.o.BatchDelay < 0 {
		return batch
	}
	var deadline <-chan time.Time
	for len(batch) < maxBatch && s.pending.Load() > 0 {
		if deadline == nil {
			t := time.NewTimer(s.o.BatchDelay)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case r := <-s.reqs:
			s.pending.Add(-1)
			batch = s.drain(append(batch, r))
		case <-deadline:
			return batch
		case <-s.quit:
			return batch
		}
	}
	return batch
}

// drain appends the requests queued now, without waiting.
func (s *Store) drain(batch []*request) []*request {
	for len(batch) < maxBatch {
		select {
		case r := <-s.reqs:
			s.pending.Add(-1)
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// ErrUnavailable is a write that needs the cluster while it cannot be reached: this node did
// not apply it (one that timed out on its way may still reach etcd). The API answers 503.
var ErrUnavailable = errors.New("the cluster cannot be reached")
