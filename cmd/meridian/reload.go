package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
)

// reload asks a running node to re-read its config file (POST /api/v1/reload).
func reload(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	apiURL := fs.String("api", defaultAPI, "the node's HTTP address")
	tokenFile := fs.String("token-file", "", "file holding the API token (the node's [server] token_file)")
	allow := fs.Bool("allow-zone-loss", false, "accept a config that drops every zone, or more than half of them")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) > 0 {
		fmt.Fprintln(stderr, "usage: meridian reload [-api URL] -token-file FILE [-allow-zone-loss]")
		return errQuiet
	}
	tok, err := changeToken("reload", *tokenFile, stderr)
	if err != nil {
		return err
	}
	u := *apiURL + "/api/v1/reload"
	if *allow {
		u += "?allow_zone_loss=true"
	}
	var out struct {
		Source   string `json:"source"`
		LoadedAt string `json:"loaded_at"`
	}
	if err := call(http.MethodPost, u, tok, nil, &out); err != nil {
		fmt.Fprintf(stderr, "meridian reload: %v\n", err)
		return errQuiet
	}
	fmt.Fprintf(stdout, "reloaded %s (loaded at %s)\n", out.Source, out.LoadedAt)
	return nil
}

// replace asks a running node to start the binary again — a new version, if its file was
// replaced — hand it the sockets, and stop once it serves (POST /api/v1/replace): an upgrade or
// restart without a lost query or a refused connection.
func replace(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	apiURL := fs.String("api", defaultAPI, "the node's HTTP address")
	tokenFile := fs.String("token-file", "", "file holding the API token (the node's [server] token_file)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) > 0 {
		fmt.Fprintln(stderr, "usage: meridian replace [-api URL] -token-file FILE")
		return errQuiet
	}
	tok, err := changeToken("replace", *tokenFile, stderr)
	if err != nil {
		return err
	}
	var out struct {
		PID int `json:"pid"`
	}
	if err := call(http.MethodPost, *apiURL+"/api/v1/replace", tok, nil, &out); err != nil {
		fmt.Fprintf(stderr, "meridian replace: %v\n", err)
		return errQuiet
	}
	fmt.Fprintf(stdout, "replaced: the new process is pid %d\n", out.PID)
	return nil
}
