package node

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/health/peer"
)

// ProberOptions configure a remote prober (`meridian probe`).
type ProberOptions struct {
	Name   string   // this prober's name, as reports show it
	Region string   // where it runs, sent with its reports; "" unknown
	Nodes  []string // the nodes' HTTP base URLs: the plan comes from the first that answers, reports go to all
	Secret []byte   // the nodes' [server] peer_secret
	Flush  time.Duration
	Replan time.Duration // how often to fetch the plan again
	Logger *slog.Logger
}

// RunProber probes the nodes' remote plan (plan.Plan.Remote, served by web.Peer) from here and
// sends what it sees to every node, until ctx ends. It fetches the plan again every Replan; a
// failed fetch keeps the previous one.
func RunProber(ctx context.Context, o ProberOptions) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	targets, err := fetchAnyPlan(ctx, o, log)
	if err != nil {
		log.Info("stopped before a plan arrived")
		return nil // ctx ended: a stop, not a failure
	}
	pub := peer.NewPublisher(o.Name, o.Nodes, o.Secret, &http.Client{Timeout: 5 * time.Second}, log)
	pub.FlushInterval = o.Flush
	pub.Region = o.Region
	// Probes say who sends them, so a backend's logs (or a test's backend) can tell probers apart.
	probers := health.Probers()
	hp := health.NewHTTP(health.HTTPOptions{UserAgent: "meridian/" + o.Name})
	probers["http"], probers["https"] = hp, hp
	sched := health.NewScheduler(o.Name, targets, probers, pub, health.SchedulerOptions{Logger: log})
	log.Info("probing for the nodes", "nodes", len(o.Nodes), "targets", len(targets))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return sched.Run(gctx) })
	g.Go(func() error { return pub.Run(gctx) })
	g.Go(func() error {
		t := time.NewTicker(o.Replan)
		defer t.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
			}
			if next, err := fetchOnce(gctx, o); err != nil {
				log.Warn("refetching the plan failed; probing the previous one", "err", err)
			} else {
				sched.Replace(next)
				log.Debug("plan refreshed", "targets", len(next))
			}
		}
	})
	err = g.Wait()
	log.Info("stopped")
	return err
}

// fetchAnyPlan asks the nodes in turn for the plan until one answers, backing off between
// rounds, until ctx ends.
func fetchAnyPlan(ctx context.Context, o ProberOptions, log *slog.Logger) ([]health.Target, error) {
	backoff := 100 * time.Millisecond
	for {
		targets, err := fetchOnce(ctx, o)
		if err == nil {
			return targets, nil
		}
		log.Warn("no node gave the probe plan; retrying", "in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

// fetchOnce returns the plan of the first node that gives one, else every node's error.
func fetchOnce(ctx context.Context, o ProberOptions) ([]health.Target, error) {
	var errs []error
	for _, n := range o.Nodes {
		targets, err := peer.FetchPlan(ctx, n, o.Name, o.Secret)
		if err == nil {
			return targets, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
