package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/dns"
)

const explainUsage = `usage: meridian explain [-c FILE] [-client IP | -subnet CIDR] NAME [TYPE]

Shows how Meridian answers NAME (type A unless TYPE is given) for a client: where the client is
located and from which address, the policy's steps (region order, pool states, selection), the
addresses picked, the TTL and the ECS scope, then the reply itself. -client answers as if the
query came from IP; -subnet as if a resolver sent it with that EDNS Client Subnet.`

func explain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, explainUsage); fs.PrintDefaults() }
	path := fs.String("c", "", "config file (default: the embedded demo config)")
	client := fs.String("client", "", "the client's address, as if the query came from it")
	subnet := fs.String("subnet", "", "the client's subnet, as if a resolver sent it in EDNS Client Subnet")
	if err := fs.Parse(args); err != nil {
		return errQuiet
	}
	if fs.NArg() < 1 || fs.NArg() > 2 || (*client == "") == (*subnet == "") {
		fs.Usage()
		return errQuiet
	}
	qtype := mdns.TypeA
	if fs.NArg() == 2 {
		t, ok := mdns.StringToType[strings.ToUpper(fs.Arg(1))]
		if !ok {
			fmt.Fprintf(stderr, "meridian explain: %q is not a record type\n", fs.Arg(1))
			return errQuiet
		}
		qtype = t
	}
	var (
		addr netip.Addr
		pfx  netip.Prefix
		err  error
	)
	if *client != "" {
		if addr, err = netip.ParseAddr(*client); err != nil {
			fmt.Fprintf(stderr, "meridian explain: -client %q is not an IP address\n", *client)
			return errQuiet
		}
	} else if pfx, err = netip.ParsePrefix(*subnet); err != nil {
		fmt.Fprintf(stderr, "meridian explain: -subnet %q is not a CIDR prefix such as 81.2.69.0/24\n", *subnet)
		return errQuiet
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errQuiet
	}
	h, err := dns.NewHandler(cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), prometheus.NewRegistry())
	if err != nil {
		return err
	}
	out, err := h.Explain(fs.Arg(0), qtype, addr, pfx)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, out)
	return nil
}
