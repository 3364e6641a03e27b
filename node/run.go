package node

import (
	"context"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/meridian-gslb/meridian/health/measure"
	"github.com/meridian-gslb/meridian/health/peer"
	"github.com/meridian-gslb/meridian/proxy/feedback"
)

// Run serves until ctx ends or a part fails, then stops every part and closes the node.
func (n *Node) Run(ctx context.Context) error {
	defer n.close()
	defer n.holdProcs()()                 // undone after every loop has stopped
	bg, cancel := context.WithCancel(ctx) // before any part runs: the registry's removals use it
	defer cancel()
	n.bg = bg
	ctx, n.stopRun = context.WithCancel(ctx) // Replace ends Run once the new process serves
	defer n.stopRun()
	g, ctx := errgroup.WithContext(ctx)
	if n.dns != nil {
		g.Go(func() error { return n.dns.Run(ctx) })
		g.Go(func() error { n.h.WatchGeo(ctx); return nil })
	}
	if n.web != nil {
		g.Go(func() error { return n.web.Run(ctx) })
	}
	if n.sched != nil {
		sctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		n.stopSched = func() { stop(); <-done } // Replace stops probing before it closes the store
		g.Go(func() error { defer close(done); return n.sched.Run(sctx) })
	}
	if n.notify != nil {
		g.Go(func() error { return n.notify.Run(ctx) })
	}
	if n.demo != nil {
		g.Go(func() error { <-ctx.Done(); n.demo.Close(); return nil })
	}
	if n.proxies != nil {
		g.Go(func() error { return n.proxies.Run(ctx) })
		g.Go(func() error { n.feed(ctx); return nil })
		if sink := n.feedbackSink(); sink != nil {
			every := n.o.FeedbackEvery
			if every <= 0 {
				every = measure.DefaultInterval
			}
			rep := feedback.NewReporter(n.rec, sink, feedback.ReporterOptions{Interval: every, Logger: n.log})
			g.Go(func() error { return rep.Run(ctx) })
		}
	}
	if n.st != nil {
		g.Go(func() error { n.runShared(ctx); return nil })
	}
	if n.o.HUP {
		g.Go(func() error { n.reloadOnHUP(ctx); return nil })
		if n.o.Replace != nil {
			g.Go(func() error { n.replaceOnUSR2(ctx); return nil })
		}
	}
	// Every part runs: a replacement tells the old process, and systemd, that it serves.
	if h := n.o.Handover; h != nil {
		if err := h.ready(); err != nil {
			n.log.Error("replace: could not tell the old process this one serves", "err", err)
		}
		sdNotify("MAINPID=" + strconv.Itoa(os.Getpid()) + "\nREADY=1")
	} else {
		sdNotify("READY=1")
	}
	err := g.Wait()
	n.log.Info("stopped")
	return err
}

// feedbackSink is where the proxies' feedback goes: the node's own measurements, or the
// followed node when a secret signs it; nil: nowhere.
func (n *Node) feedbackSink() measure.Sink {
	switch {
	case n.meas != nil:
		return n.meas
	case n.o.Follow != "" && len(n.o.FeedbackSecret) > 0:
		return peer.NewFeedbackPusher([]string{n.o.Follow}, n.o.FeedbackSecret, &http.Client{Timeout: 5 * time.Second})
	}
	return nil
}

// replaceOnUSR2 hands over to a new process (Replace) on SIGUSR2, as nginx upgrades its binary.
func (n *Node) replaceOnUSR2(ctx context.Context) {
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	defer signal.Stop(usr2)
	for {
		select {
		case <-ctx.Done():
			return
		case <-usr2:
		}
		if pid, err := n.Replace(ctx); err == nil {
			n.log.Info("replaced on SIGUSR2", "pid", pid)
		}
	}
}

// reloadOnHUP reloads the config and the certificates on every SIGHUP until ctx ends.
func (n *Node) reloadOnHUP(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		_ = n.Reload(false) // logged; the running config keeps serving
		if n.proxies != nil {
			if err := n.proxies.ReloadCerts(); err != nil {
				n.log.Error("certificates not reloaded; still serving the previous ones", "err", err)
			}
		}
	}
}
