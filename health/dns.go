package health

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// dnsProber asks the target one question over UDP and checks the rcode and, if the monitor
// names one, an answer record.
type dnsProber struct{ d net.Dialer }

// NewDNS returns the prober for the kind "dns".
func NewDNS() Prober { return &dnsProber{} }

func (p *dnsProber) Probe(ctx context.Context, t Target) Result {
	start := time.Now()
	timeout := timeoutOf(t.Monitor)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return result(ctx, start, timeout, p.probe(ctx, t, timeout))
}

func (p *dnsProber) probe(ctx context.Context, t Target, timeout time.Duration) error {
	m := t.Monitor
	qname, qtype := m.QName, m.QType
	if qname == "" {
		qname = "."
	}
	if qtype == 0 {
		qtype = dns.TypeA
	}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(qname), qtype)
	nc, err := p.d.DialContext(ctx, "udp", t.Addr.String())
	if err != nil {
		return err
	}
	defer nc.Close()
	defer abortOnCancel(ctx, nc)()
	c := &dns.Client{Net: "udp", Timeout: timeout}
	r, _, err := c.ExchangeWithConnContext(ctx, q, &dns.Conn{Conn: nc})
	if err != nil {
		return err
	}
	if r.Rcode != m.ExpectRcode {
		return failf("rcode %s, want %s", rcodeText(r.Rcode), rcodeText(m.ExpectRcode))
	}
	if m.ExpectAnswer == "" {
		return nil
	}
	for _, rr := range r.Answer {
		if strings.Contains(rr.String(), m.ExpectAnswer) {
			return nil
		}
	}
	return failf("no answer contains %q (%d answers)", m.ExpectAnswer, len(r.Answer))
}

func rcodeText(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprint(rc)
}
