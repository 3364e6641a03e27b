package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/dns"
)

const explainUsage = `usage: meridian explain [-c FILE] (-client IP | -subnet CIDR)... NAME [TYPE]

Shows how Meridian answers NAME (type A unless TYPE is given) for a client: where the client is
located and from which address, the policy's steps (region order, pool states, selection), the
addresses picked, the TTL and the ECS scope, then the reply itself. -client answers as if the
query came from IP; -subnet as if a resolver sent it with that EDNS Client Subnet. Both may be
repeated: one explanation per client, in order.`

func explain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, explainUsage); fs.PrintDefaults() }
	path := fs.String("c", "", "config file (default: the embedded demo config)")
	var clients []explainClient
	fs.Func("client", "the client's address, as if the query came from it (repeatable)", func(v string) error {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return fmt.Errorf("%q is not an IP address", v)
		}
		clients = append(clients, explainClient{addr: a})
		return nil
	})
	fs.Func("subnet", "the client's subnet, as if a resolver sent it in EDNS Client Subnet (repeatable)", func(v string) error {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return fmt.Errorf("%q is not a CIDR prefix such as 81.2.69.0/24", v)
		}
		clients = append(clients, explainClient{subnet: p})
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	if fs.NArg() < 1 || fs.NArg() > 2 || len(clients) == 0 {
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
	cfg, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errQuiet
	}
	h, err := dns.NewHandler(cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), prometheus.NewRegistry())
	if err != nil {
		return err
	}
	// The ECS scope a server sends once its scope maps are built (seconds on GeoLite2-City).
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := h.WaitScopes(ctx); err != nil {
		return fmt.Errorf("ECS scope maps: %w", err)
	}
	for i, c := range clients {
		out, err := h.Explain(fs.Arg(0), qtype, c.addr, c.subnet)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprint(stdout, out)
	}
	return nil
}

// explainClient is one -client or -subnet.
type explainClient struct {
	addr   netip.Addr
	subnet netip.Prefix
}
