package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// secondaries is what the handler does for the zones' secondaries beyond answering their
// transfers: it counts those, and tells the secondaries of new serials with NOTIFY (RFC 1996)
// once the snapshot holding them serves (Commit queues, RunNotify sends).
type secondaries struct {
	log       *slog.Logger
	transfers *prometheus.CounterVec // meridian_dns_transfers_total{zone,qtype,result}
	notifies  *prometheus.CounterVec // meridian_dns_notifies_total{zone,result}

	mu      sync.Mutex
	pending map[string]*xfrZone // by origin: the zone whose serial is still to announce
	latest  map[string]uint32   // by origin: the newest serial queued; retries of older ones stop
	wake    chan struct{}

	timeout time.Duration // for one NOTIFY's reply
	tries   int           // sends before a secondary counts as unanswered
	backoff time.Duration // before the second send, doubling after
}

func newSecondaries(reg prometheus.Registerer, log *slog.Logger) *secondaries {
	f := promauto.With(reg)
	return &secondaries{
		log: log,
		transfers: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meridian", Subsystem: "dns", Name: "transfers_total",
			Help: "Zone transfer requests (AXFR, IXFR over TCP) by zone (\"none\" for one not served here), type and result: ok, current (IXFR from a secondary already current), refused, notauth (bad TSIG or not our zone), formerr, failed (the connection broke).",
		}, []string{"zone", "qtype", "result"}),
		notifies: f.NewCounterVec(prometheus.CounterOpts{
			Namespace: "meridian", Subsystem: "dns", Name: "notifies_total",
			Help: "NOTIFY messages to secondaries by zone and result: ok (acknowledged), rejected (answered with an error), unanswered (no valid reply after every try).",
		}, []string{"zone", "result"}),
		pending: map[string]*xfrZone{},
		latest:  map[string]uint32{},
		wake:    make(chan struct{}, 1),
		timeout: 2 * time.Second,
		tries:   5,
		backoff: time.Second,
	}
}

func (n *secondaries) count(zone, qtype, result string) {
	n.transfers.WithLabelValues(zone, qtype, result).Inc()
}

// queue asks for the secondaries of zs to be notified of their serials.
func (n *secondaries) queue(zs []*xfrZone) {
	n.mu.Lock()
	for _, x := range zs {
		if len(x.notify) > 0 {
			n.pending[x.origin] = x
			n.latest[x.origin] = x.soa.Serial
		}
	}
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// superseded says whether a newer serial than x's was queued for its zone since.
func (n *secondaries) superseded(x *xfrZone) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.latest[x.origin] != x.soa.Serial
}

// RunNotify sends the queued NOTIFYs until ctx is done, from the address among local (the
// server's) that suits each secondary. A node runs it with its DNS server (Server.Run).
func (h *Handler) RunNotify(ctx context.Context, local []netip.AddrPort) {
	n := h.xfr
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.wake:
		}
		n.mu.Lock()
		jobs := n.pending
		n.pending = map[string]*xfrZone{}
		n.mu.Unlock()
		for _, x := range jobs {
			for _, to := range x.notify {
				wg.Go(func() { n.notify(ctx, x, to, notifySource(local, to.Addr())) })
			}
		}
	}
}

// notify tells one secondary of x's serial, trying again with backoff until it answers, a
// newer serial is queued, or the tries run out.
func (n *secondaries) notify(ctx context.Context, x *xfrZone, to netip.AddrPort, src netip.Addr) {
	log := n.log.With("zone", x.origin, "serial", x.soa.Serial, "secondary", to)
	wait := n.backoff
	var err error
	for try := range n.tries {
		if try > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait *= 2
			if n.superseded(x) {
				return
			}
		}
		var rej rejected
		switch err = n.send(ctx, x, to, src); {
		case err == nil:
			log.Info("secondary notified")
			n.notifies.WithLabelValues(x.origin, "ok").Inc()
			return
		case errors.As(err, &rej):
			log.Warn("secondary rejected the NOTIFY", "rcode", dns.RcodeToString[int(rej)])
			n.notifies.WithLabelValues(x.origin, "rejected").Inc()
			return
		case ctx.Err() != nil:
			return
		}
	}
	log.Warn("secondary did not answer the NOTIFY", "tries", n.tries, "err", err)
	n.notifies.WithLabelValues(x.origin, "unanswered").Inc()
}

// rejected is a NOTIFY answered with an error rcode: sending it again would not help.
type rejected int

func (r rejected) Error() string { return "rcode " + dns.RcodeToString[int(r)] }

// send sends one NOTIFY, with the new SOA in its answer section (RFC 1996 §3.7) and signed
// with the zone's key, and checks the reply (its signature included).
func (n *secondaries) send(ctx context.Context, x *xfrZone, to netip.AddrPort, src netip.Addr) error {
	m := new(dns.Msg).SetNotify(x.origin)
	m.Answer = []dns.RR{x.soa}
	c := &dns.Client{Net: "udp", Timeout: n.timeout}
	if src.IsValid() {
		c.Dialer = &net.Dialer{Timeout: n.timeout, LocalAddr: net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))}
	}
	if x.key != nil {
		c.TsigSecret = map[string]string{x.key.name: x.key.secret}
		m.SetTsig(x.key.name, x.key.alg, tsigFudge, time.Now().Unix())
	}
	resp, _, err := c.ExchangeContext(ctx, m, to.String())
	switch {
	case err != nil:
		return err
	case resp.Opcode != dns.OpcodeNotify:
		return fmt.Errorf("reply with opcode %s", dns.OpcodeToString[resp.Opcode])
	case resp.Rcode != dns.RcodeSuccess:
		return rejected(resp.Rcode)
	}
	return nil
}

// notifySource picks the address NOTIFYs to a secondary leave from: one the server listens on,
// of the secondary's family and loopback-ness, so a secondary that checks where NOTIFYs come
// from sees its primary; none (the kernel chooses) when no listen address suits.
func notifySource(local []netip.AddrPort, to netip.Addr) netip.Addr {
	to = to.Unmap()
	for _, l := range local {
		if a := l.Addr().Unmap(); a.Is4() == to.Is4() && a.IsLoopback() == to.IsLoopback() {
			return a
		}
	}
	return netip.Addr{}
}
