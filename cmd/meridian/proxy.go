package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/health/measure"
	"github.com/meridian-gslb/meridian/node"
)

// runProxy is `meridian proxy`: a node with only the config's proxy listeners, no DNS. Health
// comes from a node (-node: its endpoint states and overrides) or from running the monitors here.
func runProxy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "config file (required)")
	follow := fs.String("node", "", "follow this node's endpoint states and overrides (its HTTP base URL); default: run the monitors here")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	secretFile := fs.String("secret-file", "", "file holding the node's [server] peer_secret: with -node, send it feedback (client RTTs, backend loads)")
	name := fs.String("name", "", "this proxy's name in its feedback reports (default: the host name)")
	every := fs.Duration("feedback", measure.DefaultInterval, "how often to send feedback to the node")
	procs := fs.Int("procs", 0, "Go scheduler slots (GOMAXPROCS) for the proxy, besides one per tcp event loop; 0: one per CPU. 1 gives the lowest tail latency on a busy box, like HAProxy's nbthread 1")
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	if *procs < 0 {
		return fmt.Errorf("-procs %d: want 0 (one per CPU) or more", *procs)
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: meridian proxy -c FILE [-node URL [-name N -secret-file F]] [-procs N] [-log-level LEVEL]")
		return errQuiet
	}
	if *follow != "" && !strings.HasPrefix(*follow, "http://") && !strings.HasPrefix(*follow, "https://") {
		return fmt.Errorf("-node %q: want a base URL such as http://10.0.0.1:8053", *follow)
	}
	log, err := newLogger(*level, stderr)
	if err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errQuiet
	}
	o := node.Options{Role: node.Proxy, Load: func() (*config.Config, error) { return config.Load(*path) }, Logger: log,
		Problems: stderr, Procs: *procs, HUP: true, Follow: *follow, FeedbackEvery: *every, Name: *name}
	if *follow != "" && *secretFile != "" {
		secret, err := readToken(*secretFile)
		if err != nil {
			return fmt.Errorf("-secret-file: %w", err)
		}
		o.FeedbackSecret = []byte(secret)
	}
	n, err := node.New(ctx, cfg, o)
	if err != nil {
		return err
	}
	greetProxies(stdout, cfg, n)
	return n.Run(ctx)
}
