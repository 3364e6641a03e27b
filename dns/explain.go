package dns

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dns/policy"
)

// Explain tells how the server answers qname/qtype for a client: at address client (as if the
// query came from it), or in subnet (as if a resolver sent it with that ECS option). It runs
// the query through the same code as a real one and returns the reply with the decision's
// steps.
func (h *Handler) Explain(qname string, qtype uint16, client netip.Addr, subnet netip.Prefix) (string, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(qname), qtype)
	m.RecursionDesired = false
	m.SetEdns0(1232, false)
	src := client
	if subnet.IsValid() {
		subnet = subnet.Masked()
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, SubnetOption(subnet))
		if !src.IsValid() {
			src = netip.MustParseAddr("127.0.0.1") // the resolver; ECS says where the client is
		}
	}
	if !src.IsValid() {
		return "", fmt.Errorf("explain needs a client address or subnet")
	}
	wire, err := m.Pack()
	if err != nil {
		return "", fmt.Errorf("build query: %w", err)
	}
	if err := m.Unpack(wire); err != nil { // exactly what the server would parse
		return "", fmt.Errorf("parse query: %w", err)
	}
	tr := trace{explain: true}
	resp, _ := h.snap.Load().build(m, UDP, src, &tr)
	ex := tr.d

	var b strings.Builder
	fmt.Fprintf(&b, ";; explain %s %s from %s", m.Question[0].Name, dns.TypeToString[qtype], src)
	if subnet.IsValid() {
		fmt.Fprintf(&b, " with ECS %s", subnet)
	}
	b.WriteString("\n")
	if ex.svc == nil {
		fmt.Fprintf(&b, "  not a load-balanced name: the zone's static data answers (%s)\n", dns.RcodeToString[resp.Rcode])
	} else {
		fmt.Fprintf(&b, "  client %s located by the %s address: %s\n", ex.client.Addr, ex.source, describeLocation(ex))
		if h.health == nil {
			b.WriteString("  health: not consulted here (explain reads the config, not a node's state): every endpoint counts as up\n")
		}
		for _, step := range ex.Steps {
			fmt.Fprintf(&b, "  %s\n", step)
		}
		fmt.Fprintf(&b, "  outcome %s", ex.Outcome)
		if len(ex.Addrs) > 0 {
			fmt.Fprintf(&b, ": %s", joinAddrs(ex.Addrs))
		}
		fmt.Fprintf(&b, "; ttl %ds", ex.svc.ttlFor(ex.Decision))
		if ex.Degraded {
			b.WriteString(" (degraded_ttl: an endpoint the decision looked at is down)")
		}
		b.WriteString("\n")
		var hv policy.HealthView
		if s := h.snap.Load(); s.health != nil {
			hv = s.health()
		}
		ex.svc.explainSpill(&b, hv)
		if ex.svc.proxyBound > 0 {
			fmt.Fprintf(&b, "  failover bound: %s; for clients without a proxy in between (DNS only): %s", ex.svc.proxyBoundText, ex.svc.boundText)
		} else {
			fmt.Fprintf(&b, "  failover bound: %s", ex.svc.boundText)
		}
		if ex.ecsUsed {
			fmt.Fprintf(&b, "; ECS scope /%d", ex.scope)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n;; the reply\n")
	b.WriteString(resp.String())
	return b.String(), nil
}

func describeLocation(ex decision) string {
	l := ex.loc
	if r := ex.client.Loc.Region; r != "" {
		// decideFor sets the region only for a network the operator placed.
		s := fmt.Sprintf("placed in region %s by [geo.nets] %q", r, l.Prefix.String())
		if l.HasCoords {
			s += fmt.Sprintf(" (the region's coordinates %.2f,%.2f)", l.Lat, l.Lon)
		}
		return s
	}
	if !l.Found() {
		return "not in the geo databases"
	}
	var parts []string
	for _, p := range []string{l.Continent, l.Country, l.Subdivision} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	s := strings.Join(parts, "/")
	if l.HasCoords {
		s += fmt.Sprintf(" at %.2f,%.2f", l.Lat, l.Lon)
	}
	if l.Prefix.IsValid() {
		s += fmt.Sprintf(" (network %s)", l.Prefix)
	}
	return s
}

func joinAddrs(as []netip.Addr) string {
	var s []string
	for _, a := range as {
		s = append(s, a.String())
	}
	return strings.Join(s, " ")
}
