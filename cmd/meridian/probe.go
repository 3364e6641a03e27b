package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/health/peer"
)

// nodeList is a repeatable -node flag.
type nodeList []string

func (n *nodeList) String() string { return strings.Join(*n, ",") }
func (n *nodeList) Set(s string) error {
	if !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
		return fmt.Errorf("%q: want a base URL such as http://10.0.0.1:8080", s)
	}
	*n = append(*n, strings.TrimRight(s, "/"))
	return nil
}

// probe runs a remote prober: it fetches the probe plan from a node, probes every target and
// sends its observations to every node.
func probe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "this prober's name, as reports show it (required)")
	var nodes nodeList
	fs.Var(&nodes, "node", "a node's HTTP base URL, e.g. http://10.0.0.1:8080 (repeat for each node; at least one)")
	region := fs.String("region", "", "where this prober runs (a region name); sent with its reports and shown in their evidence")
	secretFile := fs.String("secret-file", "", "file holding the nodes' [server] peer_secret (required)")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	replan := fs.Duration("replan", 30*time.Second, "how often to fetch the plan again")
	flush := fs.Duration("flush", peer.DefaultFlushInterval, "how often to send observations to the nodes")
	if err := fs.Parse(args); err != nil {
		return errQuiet
	}
	if *name == "" || len(nodes) == 0 || *secretFile == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: meridian probe -name NAME -node URL [-node URL ...] -secret-file FILE [-log-level LEVEL]")
		return errQuiet
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl})).With("prober", *name)
	secret, err := readToken(*secretFile)
	if err != nil {
		return fmt.Errorf("-secret-file: %w", err)
	}

	targets, err := fetchAnyPlan(ctx, nodes, *name, []byte(secret), log)
	if err != nil {
		log.Info("stopped before a plan arrived")
		return nil // ctx ended: a stop, not a failure
	}
	pub := peer.NewPublisher(*name, nodes, []byte(secret), &http.Client{Timeout: 5 * time.Second}, log)
	pub.FlushInterval = *flush
	pub.Region = *region
	// Probes say who sends them, so a backend's logs (or a test's backend) can tell probers apart.
	probers := health.Probers()
	hp := health.NewHTTP(health.HTTPOptions{UserAgent: "meridian/" + *name})
	probers["http"], probers["https"] = hp, hp
	sched := health.NewScheduler(*name, targets, probers, pub, health.SchedulerOptions{Logger: log})
	log.Info("probing for the nodes", "nodes", len(nodes), "targets", len(targets))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return sched.Run(gctx) })
	g.Go(func() error { return pub.Run(gctx) })
	g.Go(func() error {
		t := time.NewTicker(*replan)
		defer t.Stop()
		for {
			select {
			case <-gctx.Done():
				return nil
			case <-t.C:
			}
			if next, err := fetchOnce(gctx, nodes, *name, []byte(secret)); err != nil {
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
func fetchAnyPlan(ctx context.Context, nodes []string, name string, secret []byte, log *slog.Logger) ([]health.Target, error) {
	backoff := 100 * time.Millisecond
	for {
		targets, err := fetchOnce(ctx, nodes, name, secret)
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
func fetchOnce(ctx context.Context, nodes []string, name string, secret []byte) ([]health.Target, error) {
	var errs []error
	for _, n := range nodes {
		targets, err := peer.FetchPlan(ctx, n, name, secret)
		if err == nil {
			return targets, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}
