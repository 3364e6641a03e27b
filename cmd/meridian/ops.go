package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meridian-gslb/meridian/config"
)

// defaultAPI is the embedded default config's HTTP listener.
const defaultAPI = "http://127.0.0.1:8053"

// readToken reads a bearer token file (config.ReadSecret).
func readToken(path string) (string, error) { return config.ReadSecret(path) }

// changeToken reads the API token a change made by cmd needs, reporting to stderr why not.
func changeToken(cmd, tokenFile string, stderr io.Writer) (string, error) {
	if tokenFile == "" {
		fmt.Fprintf(stderr, "meridian %s: changes need the API token: pass -token-file FILE (the file the node's [server] token_file names)\n", cmd)
		return "", errQuiet
	}
	tok, err := readToken(tokenFile)
	if err != nil {
		fmt.Fprintf(stderr, "meridian %s: %v\n", cmd, err)
		return "", errQuiet
	}
	return tok, nil
}

// endpoint is what the CLI reads of the API's endpoint JSON.
type endpoint struct {
	ID       string     `json:"id"`
	Dynamic  bool       `json:"dynamic"`
	State    string     `json:"state"`
	Since    *time.Time `json:"since"`
	Override *struct {
		Kind, Who, Why string
	} `json:"override"`
	Reports []struct {
		Prober    string  `json:"prober"`
		Up        bool    `json:"up"`
		Undecided bool    `json:"undecided"`
		RTTms     float64 `json:"rtt_ms"`
		Err       string  `json:"err"`
		Fresh     bool    `json:"fresh"`
	} `json:"reports"`
}

// parseInterleaved parses fs allowing flags after the positional arguments too.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func status(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	apiURL := fs.String("api", defaultAPI, "the node's HTTP address")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) > 0 {
		fmt.Fprintln(stderr, "usage: meridian status [-api URL]")
		return errQuiet
	}
	var body struct{ Endpoints []endpoint }
	if err := call(http.MethodGet, *apiURL+"/api/v1/endpoints", "", nil, &body); err != nil {
		fmt.Fprintf(stderr, "meridian status: %v\n", err)
		return errQuiet
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENDPOINT\tSTATE\tSINCE\tOVERRIDE\tEVIDENCE")
	now := time.Now()
	for _, e := range body.Endpoints {
		since := "-"
		if e.Since != nil {
			since = now.Sub(*e.Since).Round(time.Second).String() + " ago"
		}
		ov := "-"
		if o := e.Override; o != nil {
			ov = o.Kind + " by " + o.Who
			if o.Why != "" {
				ov += ": " + o.Why
			}
		}
		var ev []string
		for _, r := range e.Reports {
			s := r.Prober + ":"
			switch {
			case r.Undecided:
				s += "undecided"
			case r.Up:
				s += fmt.Sprintf("up %.1fms", r.RTTms)
			default:
				s += "down"
				if r.Err != "" {
					s += " (" + r.Err + ")"
				}
			}
			if !r.Fresh {
				s += " stale"
			}
			ev = append(ev, s)
		}
		if len(ev) == 0 {
			ev = []string{"-"}
		}
		id := e.ID
		if e.Dynamic {
			id += " (dynamic)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, e.State, since, ov, strings.Join(ev, ", "))
	}
	return tw.Flush()
}

// override runs drain, undrain, force-down and force-up.
func override(cmd string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	apiURL := fs.String("api", defaultAPI, "the node's HTTP address")
	tokenFile := fs.String("token-file", "", "file holding the API token (the node's [server] token_file)")
	why := fs.String("why", "", "the reason, recorded with the override")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagErr(err)
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "usage: meridian %s [-api URL] [-token-file FILE] [-why TEXT] ENDPOINT\n", cmd)
		return errQuiet
	}
	id := pos[0]
	tok, err := changeToken(cmd, *tokenFile, stderr)
	if err != nil {
		return err
	}
	u := *apiURL + "/api/v1/endpoints/" + escapeID(id) + "/override"
	var e endpoint
	if cmd == "undrain" {
		err = call(http.MethodDelete, u, tok, nil, &e)
	} else {
		err = call(http.MethodPost, u, tok, map[string]string{"kind": cmd, "why": *why}, &e)
	}
	if err != nil {
		fmt.Fprintf(stderr, "meridian %s %s: %v\n", cmd, id, err)
		return errQuiet
	}
	fmt.Fprintf(stdout, "%s: %s", e.ID, e.State)
	if e.Override != nil {
		fmt.Fprintf(stdout, " (%s by %s)", e.Override.Kind, e.Override.Who)
	}
	fmt.Fprintln(stdout)
	return nil
}

// escapeID escapes each of the id's path segments, keeping the slashes.
func escapeID(id string) string {
	segs := strings.Split(id, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// call makes one API request; a non-2xx answer is an error carrying its status and message.
func call(method, u, token string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return send(req, token, out)
}

// send makes one API request; a non-2xx answer is an error carrying its status and message.
func send(req *http.Request, token string, out any) error {
	u := req.URL.String()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return fmt.Errorf("%s: %s", resp.Status, e.Error)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode response from %s: %w", u, err)
	}
	return nil
}
