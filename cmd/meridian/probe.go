package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/health/peer"
	"github.com/meridian-gslb/meridian/node"
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
		return flagErr(err)
	}
	if *name == "" || len(nodes) == 0 || *secretFile == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: meridian probe -name NAME -node URL [-node URL ...] -secret-file FILE [-log-level LEVEL]")
		return errQuiet
	}
	log, err := newLogger(*level, stderr)
	if err != nil {
		return err
	}
	secret, err := readToken(*secretFile)
	if err != nil {
		return fmt.Errorf("-secret-file: %w", err)
	}
	return node.RunProber(ctx, node.ProberOptions{Name: *name, Region: *region, Nodes: nodes, Secret: []byte(secret),
		Flush: *flush, Replan: *replan, Logger: log.With("prober", *name)})
}
