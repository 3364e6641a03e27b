package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/node"
)

// serve is `meridian serve`: a node with every part the config asks for.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "config file (default: the embedded demo config)")
	level := fs.String("log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	log, err := newLogger(*level, stderr)
	if err != nil {
		return err
	}
	load := func() (*config.Config, error) { return loadConfig(*path) }
	cfg, err := load()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errQuiet
	}
	handover, err := node.HandoverFromEnv() // started by `meridian replace`: the old process's sockets
	if err != nil {
		return err
	}
	o := node.Options{Role: node.Serve, Load: load, Logger: log, Problems: stderr, Demo: *path == "", HUP: true, Handover: handover}
	if exe, err := os.Executable(); err == nil {
		o.Replace = &node.ReplaceWith{Exe: exe, Args: os.Args[1:], Stdout: os.Stdout, Stderr: os.Stderr}
	}
	n, err := node.New(ctx, cfg, o)
	if err != nil {
		return err
	}
	greet(stdout, cfg, n)
	if *path == "" {
		greetDemo(stdout, cfg, n)
	}
	greetProxies(stdout, cfg, n)
	log.Info("serving", "config", cfg.Source, "zones", len(cfg.Zones), "node", cfg.Server.Node)
	if len(cfg.Zones) == 0 {
		log.Warn("the config has no zones: every DNS question is refused", "config", cfg.Source)
	}
	return n.Run(ctx)
}

// loadConfig loads the config at path, or the embedded demo config for "".
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default()
	}
	return config.Load(path)
}
