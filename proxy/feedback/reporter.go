package feedback

import (
	"context"
	"log/slog"
	"time"

	"github.com/meridian-gslb/meridian/health/measure"
)

// Source gives the report to send; *Recorder is one.
type Source interface {
	Snapshot() measure.Report
}

// ReporterOptions configure a Reporter.
type ReporterOptions struct {
	Interval time.Duration // default measure.DefaultInterval
	Logger   *slog.Logger  // default: discard
}

// Reporter sends src's report to a sink every Interval.
type Reporter struct {
	src  Source
	sink measure.Sink
	o    ReporterOptions
	log  *slog.Logger
}

// NewReporter returns a reporter; Run starts it.
func NewReporter(src Source, sink measure.Sink, o ReporterOptions) *Reporter {
	if o.Interval <= 0 {
		o.Interval = measure.DefaultInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Reporter{src: src, sink: sink, o: o, log: o.Logger.With("component", "feedback")}
}

// Interval is how often the reporter sends (nodes expire what it sent after a few of these).
func (r *Reporter) Interval() time.Duration { return r.o.Interval }

// Run sends a report at once and then every Interval until ctx ends; it returns nil. A send
// that fails is logged (once until one works again) and not retried: the next report
// replaces it.
func (r *Reporter) Run(ctx context.Context) error {
	t := time.NewTicker(r.o.Interval)
	defer t.Stop()
	failing := false
	for {
		sctx, cancel := context.WithTimeout(ctx, r.o.Interval)
		err := r.sink.Record(sctx, r.src.Snapshot())
		cancel()
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			failing = true
			r.log.Warn("sending feedback failed; retrying with the next report", "err", err)
		case err == nil && failing:
			failing = false
			r.log.Info("sending feedback works again")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
