package config

import (
	"net/netip"
	"os"
	"path/filepath"
)

// Dnstap is the [server.dnstap] table: every query and reply logged as dnstap AUTH_QUERY and
// AUTH_RESPONSE messages (dns/dnstap). Exactly one of Socket, TCP and File is set.
type Dnstap struct {
	// Socket is a Unix socket a dnstap collector listens on (absolute, or resolved beside the
	// config file).
	Socket string
	// TCP is a collector's address.
	TCP netip.AddrPort
	// File is written from the start (truncated) when the node starts or the output changes.
	File string
	// Sample is the fraction of queries logged, (0, 1]. Default 1.
	Sample float64
	// Buffer is how many messages may wait for the output; more are dropped. Default 10000.
	Buffer int
	// Identity and Version are sent in every message. Default: the node's name, and "" (the
	// node puts in meridian's version).
	Identity, Version string
	// Queries and Responses say which messages are logged. Default both.
	Queries, Responses bool
	Line               int
}

// decodeDnstap reads [server.dnstap]; nil when the table is absent.
func decodeDnstap(o *obj, node, file string) *Dnstap {
	if o == nil {
		return nil
	}
	defer o.Done()
	d := &Dnstap{Line: o.pos.line}
	sock, sv := o.String("socket", "")
	tcp, tv := o.String("tcp", "")
	path, fv := o.String("file", "")
	var first string
	for i, v := range []*value{sv, tv, fv} {
		key := []string{"socket", "tcp", "file"}[i]
		switch {
		case v == nil:
		case first == "":
			first = key
		default:
			o.problem(v, key, "%s is already the output: set exactly one of socket, tcp and file", first)
		}
	}
	if first == "" {
		o.d.add(o.pos, o.path, "needs an output: socket = \"/run/dnstap.sock\", tcp = \"127.0.0.1:6000\" or file = \"queries.dnstap\"")
	}
	switch {
	case sv != nil && sock == "":
		o.problem(sv, "socket", "must not be empty")
	case sv != nil:
		d.Socket = resolvePath(sock, file)
	}
	if tv != nil {
		ap, err := netip.ParseAddrPort(tcp)
		if err != nil {
			o.problem(tv, "tcp", "%q is not an ip:port address (e.g. \"127.0.0.1:6000\")", tcp)
		}
		d.TCP = ap
	}
	switch {
	case fv != nil && path == "":
		o.problem(fv, "file", "must not be empty")
	case fv != nil:
		d.File = resolvePath(path, file)
		if st, err := os.Stat(filepath.Dir(d.File)); err != nil || !st.IsDir() {
			o.problem(fv, "file", "%s: the directory %s does not exist", d.File, filepath.Dir(d.File))
		} else if st, err := os.Stat(d.File); err == nil && !st.Mode().IsRegular() {
			o.problem(fv, "file", "%s exists and is not a regular file", d.File)
		}
	}
	sample, smv := o.Float("sample", 1, 0, 1)
	if smv != nil && sample == 0 {
		o.problem(smv, "sample", "0 logs nothing; remove [server.dnstap] to turn query logging off")
		sample = 1
	}
	d.Sample = sample
	n, _ := o.Int("buffer", 10000, 1, 1<<20)
	d.Buffer = int(n)
	d.Identity, _ = o.String("identity", node)
	d.Version, _ = o.String("version", "")
	d.Queries, _ = o.Bool("queries", true)
	var rv *value
	d.Responses, rv = o.Bool("responses", true)
	if !d.Queries && !d.Responses {
		if rv == nil {
			rv = o.t.m["queries"]
		}
		o.problem(rv, "responses", "queries and responses are both false: nothing would be logged")
	}
	return d
}
