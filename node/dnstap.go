package node

import (
	"github.com/meridian-gslb/meridian/dns"
	"github.com/meridian-gslb/meridian/dns/dnstap"
	"github.com/meridian-gslb/meridian/web"
)

// dnstap lets the DNS handler log queries as [server.dnstap] says, counted on the node's
// registry. The handler opens, swaps (at each reload's commit) and closes the output itself.
func (n *Node) dnstap() dns.Option {
	v, _ := web.Version()
	return dns.WithDnstap(dnstap.NewMetrics(n.reg), "meridian "+v)
}
