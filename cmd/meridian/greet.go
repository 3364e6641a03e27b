package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/node"
)

// greet tells the operator where the node listens and what to dig first.
func greet(w io.Writer, cfg *config.Config, n *node.Node) {
	addrs := n.DNSAddrs()
	fmt.Fprintf(w, "meridian: serving %d zone(s) from %s on", len(cfg.Zones), cfg.Source)
	for _, a := range addrs {
		fmt.Fprintf(w, " %s", a)
	}
	fmt.Fprintln(w, " (udp+tcp)")
	if ws, ok := n.HTTPAddr(); ok {
		fmt.Fprintf(w, "meridian: dashboard http://%s/  metrics http://%s/metrics  health http://%s/healthz\n", ws, ws, ws)
	}
	if name := sampleName(cfg); name != "" && len(addrs) > 0 {
		fmt.Fprintf(w, "meridian: try  dig @%s -p %d %s\n", addrs[0].Addr(), addrs[0].Port(), name)
	}
}

// greetDemo tells a new user what to try on the embedded demo.
func greetDemo(w io.Writer, cfg *config.Config, n *node.Node) {
	addrs := n.DNSAddrs()
	if len(addrs) == 0 {
		return
	}
	a := addrs[0]
	fmt.Fprintf(w, "meridian: demo backends answer on port 18080 of the demo pools' addresses; try\n")
	fmt.Fprintf(w, "    dig @%s -p %d lb.example.test                           # failover: us-east first\n", a.Addr(), a.Port())
	fmt.Fprintf(w, "    dig @%s -p %d geo.example.test +subnet=198.51.100.0/24  # geo: eu-central\n", a.Addr(), a.Port())
	for _, p := range cfg.Proxies {
		fmt.Fprintf(w, "    curl -i http://%s/                                # the local proxy over pool %s\n", p.Listen, p.Pool)
	}
	if ws, ok := n.HTTPAddr(); ok {
		fmt.Fprintf(w, "  then stop us-east on the dashboard, http://%s/, and watch lb.example.test move to eu-central\n", ws)
	}
}

// greetProxies names each proxy listener and where it listens.
func greetProxies(w io.Writer, cfg *config.Config, n *node.Node) {
	for _, p := range cfg.Proxies {
		fmt.Fprintf(w, "meridian: proxy %s (%s) on %s\n", p.Name, p.Mode, n.ProxyAddr(p.Name))
	}
}

// sampleName is a name worth a first dig: a www A record if there is one, else any A record.
func sampleName(cfg *config.Config) string {
	first := ""
	for _, z := range cfg.Zones {
		for _, r := range z.Records {
			if r.Type != "A" {
				continue
			}
			if strings.HasPrefix(r.Name, "www.") {
				return r.Name
			}
			if first == "" {
				first = r.Name
			}
		}
	}
	return first
}
