// Command meridian is a DNS-based global server load balancer: an authoritative name server
// that answers load-balanced names by policy over regional pools of endpoints, with a local
// L4/L7 proxy that balances connections over a region's backends.
//
//	meridian serve [-c meridian.toml]   serve DNS and HTTP (the embedded demo config without -c)
//	meridian proxy -c meridian.toml     run only the [proxy.NAME] listeners (no DNS)
//	meridian check -c meridian.toml     validate a config and exit 0 or 1
//	meridian version                    print the build
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if err != errQuiet {
			fmt.Fprintln(os.Stderr, "meridian:", err)
		}
		os.Exit(1)
	}
}
