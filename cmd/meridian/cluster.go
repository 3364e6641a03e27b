package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/meridian-gslb/meridian/config"
)

// register adds an endpoint to a pool at run time (POST /api/v1/pools/POOL/endpoints).
func register(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("register", flag.ContinueOnError)
	fs.SetOutput(stderr)
	apiURL := fs.String("api", defaultAPI, "the node's HTTP address")
	tokenFile := fs.String("token-file", "", "file holding the API token (the node's [server] token_file)")
	weight := fs.Uint("weight", 1, "the endpoint's weight, 1 to 65535")
	ttl := fs.Duration("ttl", 0, "hold the registration this long unless it is registered again (renewed); 0: until deregistered")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != 2 {
		fmt.Fprintln(stderr, "usage: meridian register [-api URL] -token-file FILE [-weight W] [-ttl 30s] POOL ADDRESS")
		return errQuiet
	}
	if _, err := netip.ParseAddr(pos[1]); err != nil {
		fmt.Fprintf(stderr, "meridian register: %q is not an IPv4 or IPv6 address\n", pos[1])
		return errQuiet
	}
	tok, err := changeToken("register", *tokenFile, stderr)
	if err != nil {
		return err
	}
	body := map[string]any{"address": pos[1], "weight": *weight}
	if *ttl > 0 {
		body["ttl"] = ttl.String()
	}
	var out map[string]any
	if err := call(http.MethodPost, *apiURL+"/api/v1/pools/"+pos[0]+"/endpoints", tok, body, &out); err != nil {
		fmt.Fprintf(stderr, "meridian register %s %s: %v\n", pos[0], pos[1], err)
		return errQuiet
	}
	held := "until deregistered"
	if *ttl > 0 {
		held = fmt.Sprintf("for %s unless renewed", ttl)
	}
	fmt.Fprintf(stdout, "%s/%s registered (weight %d), held %s\n", pos[0], pos[1], *weight, held)
	return nil
}

// deregister drains and then removes a registered endpoint.
func deregister(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("deregister", flag.ContinueOnError)
	fs.SetOutput(stderr)
	apiURL := fs.String("api", defaultAPI, "the node's HTTP address")
	tokenFile := fs.String("token-file", "", "file holding the API token (the node's [server] token_file)")
	force := fs.Bool("force", false, "remove it even if the pool falls below its min_healthy")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != 2 {
		fmt.Fprintln(stderr, "usage: meridian deregister [-api URL] -token-file FILE [-force] POOL ADDRESS")
		return errQuiet
	}
	tok, err := changeToken("deregister", *tokenFile, stderr)
	if err != nil {
		return err
	}
	u := *apiURL + "/api/v1/pools/" + pos[0] + "/endpoints/" + pos[1]
	if *force {
		u += "?force=true"
	}
	var out struct {
		Until time.Time `json:"draining_until"`
	}
	if err := call(http.MethodDelete, u, tok, nil, &out); err != nil {
		fmt.Fprintf(stderr, "meridian deregister %s %s: %v\n", pos[0], pos[1], err)
		return errQuiet
	}
	fmt.Fprintf(stdout, "%s/%s draining; removed at %s\n", pos[0], pos[1], out.Until.Local().Format(time.TimeOnly))
	return nil
}

// configCmd is `meridian config push`: validate a file here, then store it as the revision
// every node of the cluster serves.
func configCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "push" {
		fmt.Fprintln(stderr, "usage: meridian config push [-api URL] -token-file FILE [-allow-zone-loss] -c FILE")
		return errQuiet
	}
	fs := flag.NewFlagSet("config push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	apiURL := fs.String("api", defaultAPI, "the node's HTTP address")
	tokenFile := fs.String("token-file", "", "file holding the API token (the node's [server] token_file)")
	path := fs.String("c", "", "the config file to push (required)")
	allow := fs.Bool("allow-zone-loss", false, "accept a config that drops every zone, or more than half of them")
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return flagErr(err)
	}
	if *path == "" || len(pos) > 0 {
		fmt.Fprintln(stderr, "usage: meridian config push [-api URL] -token-file FILE [-allow-zone-loss] -c FILE")
		return errQuiet
	}
	// Checked here first, as `meridian check` does: a bad file never leaves this machine.
	if _, err := config.Load(*path); err != nil {
		fmt.Fprintln(stderr, err)
		return errQuiet
	}
	data, err := os.ReadFile(*path)
	if err != nil {
		return err
	}
	tok, err := changeToken("config push", *tokenFile, stderr)
	if err != nil {
		return err
	}
	u := *apiURL + "/api/v1/cluster/config"
	if *allow {
		u += "?allow_zone_loss=true"
	}
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/toml")
	req.Header.Set("X-Meridian-Source", filepath.Base(*path))
	var out struct {
		Revision int64 `json:"revision"`
	}
	if err := send(req, tok, &out); err != nil {
		fmt.Fprintf(stderr, "meridian config push %s: %v\n", *path, err)
		return errQuiet
	}
	// The nodes swap it in within moments: wait (up to 5 s) until they all serve it, or say who does not.
	var st clusterStatus
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(100 * time.Millisecond) {
		if call(http.MethodGet, *apiURL+"/api/v1/cluster", "", nil, &st) == nil && st.Agree && st.Revision >= out.Revision {
			break
		}
	}
	serving := 0
	for _, n := range st.Nodes {
		if n.Revision == out.Revision {
			serving++
		}
	}
	fmt.Fprintf(stdout, "%s pushed as revision %d: %d of %d nodes serve it\n", *path, out.Revision, serving, len(st.Nodes))
	for _, n := range st.Nodes {
		if n.Revision != out.Revision {
			why := "not yet"
			if n.Rejected == out.Revision {
				why = "rejected: " + n.Error
			}
			fmt.Fprintf(stdout, "  %s serves revision %d (%s)\n", n.Node, n.Revision, why)
		}
	}
	return nil
}

// clusterStatus is what the CLI reads of GET /api/v1/cluster.
type clusterStatus struct {
	Backend  string `json:"backend"`
	Revision int64  `json:"revision"`
	Agree    bool   `json:"agree"`
	Nodes    []struct {
		Node      string `json:"node"`
		Revision  int64  `json:"revision"`
		Rejected  int64  `json:"rejected_revision"`
		Error     string `json:"error"`
		Heartbeat string `json:"heartbeat"`
		Agrees    bool   `json:"agrees"`
	} `json:"nodes"`
}

// clusterCmd lists the nodes of the cluster, the revision each serves and its heartbeat.
func clusterCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	apiURL := fs.String("api", defaultAPI, "the node's HTTP address")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) > 0 {
		fmt.Fprintln(stderr, "usage: meridian cluster [-api URL]")
		return errQuiet
	}
	var st clusterStatus
	if err := call(http.MethodGet, *apiURL+"/api/v1/cluster", "", nil, &st); err != nil {
		fmt.Fprintf(stderr, "meridian cluster: %v\n", err)
		return errQuiet
	}
	agree := "every node serves it"
	if !st.Agree {
		agree = "NOT every node serves it"
	}
	fmt.Fprintf(stdout, "backend %s, config revision %d: %s\n", st.Backend, st.Revision, agree)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tREVISION\tHEARTBEAT\tREJECTED")
	for _, n := range st.Nodes {
		rej := "-"
		if n.Rejected != 0 {
			rej = fmt.Sprintf("revision %d: %s", n.Rejected, n.Error)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", n.Node, n.Revision, n.Heartbeat, rej)
	}
	return tw.Flush()
}
