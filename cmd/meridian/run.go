package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/web"
)

// errQuiet means the failure was already reported in full.
var errQuiet = errors.New("failed")

const usage = `usage: meridian <command> [flags]

commands:
  serve [-c FILE]   serve DNS and HTTP; without -c, the embedded demo config
  check -c FILE     validate a config: exit 0 if good, else 1 with every problem as file:line:col
  explain [-c FILE] (-client IP|-subnet CIDR)... NAME [TYPE]
                    show how NAME is answered for that client, step by step
  status [-api URL] show every endpoint's state, override and evidence, from a running node
  drain|force-down|force-up [-api URL] -token-file FILE [-why TEXT] ENDPOINT
                    override an endpoint (ENDPOINT is pool/address, as status shows it)
  undrain [-api URL] -token-file FILE ENDPOINT
                    clear the endpoint's override: its probers decide again
  reload [-api URL] -token-file FILE [-allow-zone-loss]
                    re-read a running node's config file, as SIGHUP does; -allow-zone-loss
                    accepts a config that drops every zone or more than half of them
  register [-api URL] -token-file FILE [-weight W] [-ttl D] POOL ADDRESS
                    add an endpoint to a pool at run time (on every node of a cluster);
                    with -ttl it lapses unless registered again within D
  deregister [-api URL] -token-file FILE [-force] POOL ADDRESS
                    drain a registered endpoint, then remove it after the pool's drain_timeout
  replace [-api URL] -token-file FILE
                    start the node's binary again (a new version, if the file was replaced),
                    hand it every socket and stop the old process: no query lost (SIGUSR2 too)
  config push [-api URL] -token-file FILE [-allow-zone-loss] -c FILE
                    validate FILE here and store it as the config every node of the cluster serves
  cluster [-api URL]
                    list the cluster's nodes, the config revision each serves, their heartbeats
  dnssec keygen [-c FILE] [-role csk|ksk|zsk] [-algorithm ecdsap256sha256|ed25519] ZONE
                    make a signing key for ZONE beside the config; prints its path
  dnssec ds -c FILE ZONE
                    print the DS records of ZONE's key-signing keys, for the parent zone
  proxy -c FILE [-node URL]
                    run only the config's proxy listeners (no DNS); health from that node's
                    endpoint states and overrides, or from running the monitors here
  probe -name NAME -node URL [-node URL ...] -secret-file FILE
                    probe the nodes' endpoints from here and send them what this prober sees
  version           print the version

Run 'meridian <command> -h' for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errQuiet
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "explain":
		return explain(ctx, args[1:], stdout, stderr)
	case "status":
		return status(args[1:], stdout, stderr)
	case "drain", "undrain", "force-down", "force-up":
		return override(args[0], args[1:], stdout, stderr)
	case "reload":
		return reload(args[1:], stdout, stderr)
	case "replace":
		return replace(args[1:], stdout, stderr)
	case "register":
		return register(args[1:], stdout, stderr)
	case "deregister":
		return deregister(args[1:], stdout, stderr)
	case "config":
		return configCmd(args[1:], stdout, stderr)
	case "cluster":
		return clusterCmd(args[1:], stdout, stderr)
	case "dnssec":
		return dnssecCmd(args[1:], stdout, stderr)
	case "probe":
		return probe(ctx, args[1:], stderr)
	case "proxy":
		return runProxy(ctx, args[1:], stdout, stderr)
	case "version":
		v, r := web.Version()
		fmt.Fprintf(stdout, "meridian %s (%s)\n", v, r)
		return nil
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "meridian: unknown command %q\n\n%s", args[0], usage)
	return errQuiet
}

// newLogger logs text to w at level ("debug", "info", "warn" or "error").
func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})), nil
}

func check(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "config file to validate (required)")
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: meridian check -c FILE")
		return errQuiet
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errQuiet
	}
	if len(cfg.Zones) == 0 {
		fmt.Fprintf(stdout, "%s: ok (0 zones: every DNS question would be refused; a running node reloads it only with -allow-zone-loss)\n", *path)
		return nil
	}
	fmt.Fprintf(stdout, "%s: ok (%d zones)\n", *path, len(cfg.Zones))
	return nil
}
