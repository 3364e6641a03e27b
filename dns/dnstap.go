package dns

import (
	"net/netip"
	"strconv"
	"time"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns/dnstap"
	"github.com/meridian-gslb/meridian/dns/policy"
)

// WithDnstap lets the handler log queries as [server.dnstap] says (without it the table is
// ignored, as by `meridian explain`). m counts for every output the handler opens; version is
// sent when the config names none.
func WithDnstap(m *dnstap.Metrics, version string) Option {
	return func(h *Handler) { h.tapOpts = &dnstap.Options{Metrics: m, Logger: h.log, Version: version} }
}

// commitTap serves c's dnstap output: the running one takes c's settings when it writes to the
// same place, else it is closed (its queue written) and c's opened. h.mu is held.
func (h *Handler) commitTap(c *config.Dnstap) error {
	if h.tapOpts == nil {
		return nil
	}
	old := h.tap.Load()
	if old != nil && c != nil && old.SameOutput(*c) {
		old.Update(*c)
		return nil
	}
	if old != nil {
		h.tap.Store(nil)
		old.Close() // before a new one opens the same file
		h.log.Info("dnstap output closed", "output", old)
	}
	if c == nil {
		return nil
	}
	t, err := dnstap.Open(*c, *h.tapOpts)
	if err != nil {
		return err
	}
	h.tap.Store(t)
	h.log.Info("logging queries with dnstap", "output", dnstap.Describe(*c), "sample", c.Sample)
	return nil
}

// CloseDnstap writes what the dnstap output holds and closes it; call it once the servers have
// stopped answering.
func (h *Handler) CloseDnstap() {
	if t := h.tap.Swap(nil); t != nil {
		t.Close()
	}
}

// respondTapped is Respond with dnstap on: a sampled query and its reply are copied to the tap,
// with the policy decision of a load-balanced name, which the tap's writer turns into Extra.
// start, when the query came, is the query time of its messages.
func (h *Handler) respondTapped(t *dnstap.Tap, out, req []byte, proto Proto, src netip.AddrPort, start time.Time) []byte {
	if len(req) < headerLen || !t.Sampled(u16(req), src.Port()) {
		return h.respond(out, req, proto, src, start, nil)
	}
	e := t.Get()
	if e == nil { // the buffer is full: counted as dropped
		return h.respond(out, req, proto, src, start, nil)
	}
	defer t.Send(e) // even if respond panics: an entry from Get that is never sent stops the tap
	queries, responses := t.Want()
	if queries {
		e.Query = append(e.Query, req...)
	}
	e.QueryTime, e.Client, e.TCP = start, src, proto == TCP
	var tr trace
	resp := h.respond(out, req, proto, src, start, &tr)
	e.ResponseTime = start.Add(time.Since(start)) // one clock read, the monotonic one: half of time.Now
	if responses {
		e.Response = append(e.Response, resp...)
	}
	x, _ := e.Detail.(*tapDecision) // the entry's from an earlier query, if any
	switch {
	case tr.d.svc != nil:
		if x == nil {
			x = new(tapDecision)
			e.Detail = x
		}
		x.d = tr.d
	case x != nil && x.d.svc != nil:
		x.d = decision{} // nothing to say, and nothing of an older snapshot kept alive
	}
	return resp
}

// tapDecision carries a query's policy decision to the dnstap writer, which formats it: the
// query path only copies it. Its slices are the decision's own (policy.Decide allocates them
// for each query), and the service is immutable, so the writer may read them later.
type tapDecision struct{ d decision }

// AppendExtra is appendDecision, or nothing for a query no policy decided.
func (x *tapDecision) AppendExtra(b []byte) []byte {
	if x.d.svc == nil {
		return b
	}
	return appendDecision(b, &x.d)
}

// appendDecision says why a load-balanced name got its answer, logfmt style:
//
//	service=www.example.test. outcome=answer pools=eu-west region=eu client=EU/DE source=ecs scope=24
//
// pools are those the addresses came from, region the first one's; client is where the client
// was placed when the decision looked it up (a [geo.nets] region, or continent/country).
func appendDecision(b []byte, d *decision) []byte {
	b = append(b, "service="...)
	b = append(b, d.svc.name...)
	b = append(b, " outcome="...)
	b = append(b, d.Outcome.String()...)
	if len(d.Pools) > 0 {
		b = append(b, " pools="...)
		for i, p := range d.Pools {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, p...)
		}
		if r := poolRegion(d.svc.p, d.Pools[0]); r != "" {
			b = append(b, " region="...)
			b = append(b, r...)
		}
	}
	switch l := d.loc; {
	case d.client.Loc.Region != "":
		b = append(b, " client=region:"...)
		b = append(b, d.client.Loc.Region...)
	case l.Continent != "" || l.Country != "":
		b = append(b, " client="...)
		b = append(b, l.Continent...)
		if l.Country != "" {
			b = append(b, '/')
			b = append(b, l.Country...)
		}
	}
	b = append(b, " source="...)
	b = append(b, d.source...)
	if d.ecsUsed || d.scope > 0 {
		b = append(b, " scope="...)
		b = strconv.AppendUint(b, uint64(d.scope), 10)
	}
	if d.Degraded {
		b = append(b, " degraded=true"...)
	}
	return b
}

// poolRegion is the region of the service's pool named name, "" when it has none.
func poolRegion(s *policy.Service, name string) string {
	for _, p := range s.Pools {
		if p != nil && p.Name == name && p.Region != nil {
			return p.Region.Name
		}
	}
	if f := s.Fallback; f != nil && f.Name == name && f.Region != nil {
		return f.Region.Name
	}
	return ""
}
