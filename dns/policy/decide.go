package policy

import (
	"fmt"
	"slices"

	"github.com/meridian-gslb/meridian/health"
)

// Decide picks what to answer for one query: filter → order → walk → select, and the all-down
// rule when no pool is eligible (see the package doc). It only reads the Service, so any
// number of goroutines may decide over the same Service as long as nobody modifies it.
func Decide(r Request) Decision { return DecideInto(r, nil) }

// DecideInto is Decide with the decision's addresses and pools in room when it is not nil.
func DecideInto(r Request, room *Room) Decision {
	d := decider{r: r}
	dec := d.decide(room)
	dec.Steps = d.steps
	return dec
}

// decider carries one decision's request and, with Explain, its steps.
type decider struct {
	r        Request
	steps    []string
	degraded bool // the walk met a pool with endpoints not serving
}

// Stack room for the usual service; larger ones spill to the heap.
const (
	stackPools = 8
	stackCands = 16
)

func (d *decider) decide(room *Room) Decision {
	svc, fam := d.r.Service, d.r.Family
	if svc == nil {
		d.stepf("no service → servfail")
		return Decision{Outcome: ServFail}
	}
	if d.r.Explain {
		d.stepf("service %s: IPv%d, order %s, select %s, answers %d, on_all_down=%s",
			svc.Name, fam, svc.Order, svc.Select, answers(svc), svc.OnAllDown)
	}
	var pbuf [stackPools]ranked
	ps := d.filter(pbuf[:0])
	if len(ps) == 0 {
		if d.r.Explain {
			d.stepf("no pool has an enabled IPv%d endpoint → nodata", fam)
		}
		return Decision{Outcome: NoData}
	}

	d.order(ps)
	return d.finish(ps, room)
}

// finish walks the ordered tiers ps and selects, the all-down rule included. It only reads ps.
func (d *decider) finish(ps []ranked, room *Room) Decision {
	svc := d.r.Service
	dec := Decision{Depends: depends(svc)}
	var subnet uint64
	if svc.Select == Hash {
		subnet, dec.SubnetBits = subnetHash(d.r.Client.Addr)
	}
	var cbuf [stackCands]cand
	c := d.walk(ps, cbuf[:0])
	dec.Degraded = d.degraded
	if len(c) == 0 {
		dec.Degraded = true
		c, dec.Outcome = d.allDown(ps, c)
		if dec.Outcome != Answer {
			return dec
		}
	}
	k := min(answers(svc), len(c))
	pick(svc.Select, c, k, subnet)
	dec.Addrs, dec.Pools = collect(c[:k], room)
	if d.r.Explain {
		d.stepf("%s", selectStep(svc.Select, len(c), d.r.Client.Addr, dec))
	}
	return dec
}

// filter keeps the pools with at least one enabled endpoint of the family, in configured order.
func (d *decider) filter(ps []ranked) []ranked {
	for _, p := range d.r.Service.Pools {
		if p == nil {
			continue
		}
		n := 0
		for i := range p.Endpoints {
			if usable(&p.Endpoints[i], d.r.Family) {
				n++
			}
		}
		if n == 0 {
			if d.r.Explain {
				d.stepf("pool %s: no enabled IPv%d endpoint, skipped", p.Name, d.r.Family)
			}
			continue
		}
		ps = append(ps, ranked{pool: p, n: n})
	}
	return ps
}

// order sorts ps into tiers by the service's Order.
func (d *decider) order(ps []ranked) {
	svc, c := d.r.Service, d.r.Client
	tol := svc.Tolerance
	if tol == 0 {
		tol = defaultTolerance
	}
	tol = max(tol, 0)
	switch svc.Order {
	case Geo:
		level, code := orderGeo(svc, c, ps)
		if d.r.Explain {
			d.stepf("order geo: %s → %s", geoMatch(c, level, code), tiersString(ps))
		}
	case Proximity:
		located := orderProximity(c.Loc, ps, tol)
		if d.r.Explain {
			d.stepf("order proximity: %s → %s", proximityFrom(c.Loc, located, tol), tiersString(ps))
		}
	case Latency:
		measured := orderLatency(c, d.r.Latency, ps, tol)
		if d.r.Explain {
			d.stepf("order latency: %s → %s", latencyFrom(c.Loc, measured, len(ps), tol), tiersString(ps))
			d.rttSources(ps)
		}
	default:
		orderFailover(ps)
		if d.r.Explain {
			d.stepf("order failover: configured order → %s", tiersString(ps))
		}
	}
}

// walk returns the serving endpoints of the eligible pools of the first tier that has any.
func (d *decider) walk(ps []ranked, c []cand) []cand {
	fam, hv := d.r.Family, d.r.Health
	var sv SinceView
	if d.r.Recently > 0 {
		sv, _ = hv.(SinceView)
	}
	for i := 0; i < len(ps); {
		j := i
		for j < len(ps) && ps[j].tier == ps[i].tier {
			j++
		}
		for _, rp := range ps[i:j] {
			p, start := rp.pool, len(c)
			for e := range p.Endpoints {
				ep := &p.Endpoints[e]
				if usable(ep, fam) && (hv == nil || Serves(hv.State(ep.ID), ep)) && !d.full(p, ep) {
					c = append(c, cand{ep: ep, pool: p})
				}
			}
			need := min(max(p.MinHealthy, 1), rp.n)
			serving := len(c) - start
			if serving < rp.n || (sv != nil && !d.degraded && d.changedRecently(sv, p)) {
				d.degraded = true
			}
			if d.r.Explain {
				d.stepf("pool %s: %d/%d serving (min %d) %s", p.Name, serving, rp.n, need,
					eligible(serving >= need))
				d.explainNotServing(p, c[start:])
			}
			if serving < need {
				c = c[:start]
			}
		}
		if len(c) > 0 {
			return c
		}
		i = j
	}
	return c
}

// explainNotServing lists the endpoints of p (of the asked family) that are not among serving,
// and why: the health state with the evidence behind it when the view has it (EvidenceView).
func (d *decider) explainNotServing(p *Pool, serving []cand) {
	ev, _ := d.r.Health.(EvidenceView)
	for e := range p.Endpoints {
		ep := &p.Endpoints[e]
		if !usable(ep, d.r.Family) || slices.ContainsFunc(serving, func(c cand) bool { return c.ep == ep }) {
			continue
		}
		st := health.Unknown
		if d.r.Health != nil {
			st = d.r.Health.State(ep.ID)
		}
		why := st.String()
		if st.Serving() && ep.AwaitRise {
			why += " (a registered endpoint serves once it has risen)"
		}
		if ev != nil {
			if s := ev.Evidence(ep.ID); s != "" {
				why += ": " + s
			}
		}
		d.stepf("  not serving: %s %s", ep.ID, why)
	}
}

// full reports whether the proxies say ep has p.MaxInFlight requests in flight or more: it
// then counts as not serving (it is not down: health never hears of it).
func (d *decider) full(p *Pool, ep *Endpoint) bool {
	if p.MaxInFlight <= 0 || d.r.Load == nil {
		return false
	}
	n, ok := d.r.Load.InFlight(ep.ID)
	if !ok || n < int64(p.MaxInFlight) {
		return false
	}
	if d.r.Explain {
		d.stepf("endpoint %s full (in-flight %d >= max_inflight %d)", ep.ID, n, p.MaxInFlight)
	}
	return true
}

// changedRecently reports whether an enabled endpoint of p changed state within r.Recently.
func (d *decider) changedRecently(sv SinceView, p *Pool) bool {
	for i := range p.Endpoints {
		if !usable(&p.Endpoints[i], d.r.Family) {
			continue
		}
		if t := sv.Since(p.Endpoints[i].ID); !t.IsZero() && d.r.Now.Sub(t) < d.r.Recently {
			return true
		}
	}
	return false
}

// allDown applies the service's OnAllDown when no tier has an eligible pool. It is off the
// usual path, so it explains without guarding.
func (d *decider) allDown(ps []ranked, c []cand) ([]cand, Outcome) {
	svc, fam := d.r.Service, d.r.Family
	how := svc.OnAllDown.String()
	switch svc.OnAllDown {
	case FailNoData:
		d.stepf("all pools down: on_all_down=%s → nodata", how)
		return c, NoData
	case FailServFail:
		d.stepf("all pools down: on_all_down=%s → servfail", how)
		return c, ServFail
	case UseFallback:
		fb := svc.Fallback
		if fb == nil {
			how += " but no fallback pool"
			break
		}
		if c = appendEnabled(c, fb, fam); len(c) > 0 {
			d.stepf("all pools down: on_all_down=%s → fallback %s, ignoring health", how, fb.Name)
			return c, Answer
		}
		how += " but fallback " + fb.Name + " has no enabled IPv" + string('0'+byte(fam)) + " endpoint"
	}
	first := ps[0].pool
	d.stepf("all pools down: on_all_down=%s → fail open over %s, ignoring health", how, first.Name)
	return appendEnabled(c, first, fam), Answer
}

// appendEnabled appends p's enabled endpoints of the family, whatever their health.
func appendEnabled(c []cand, p *Pool, fam int) []cand {
	for e := range p.Endpoints {
		if ep := &p.Endpoints[e]; usable(ep, fam) {
			c = append(c, cand{ep: ep, pool: p})
		}
	}
	return c
}

// usable reports whether e is enabled and of the family (4 or 6; IPv4-mapped counts as 4).
func usable(e *Endpoint, fam int) bool {
	if !e.Enabled {
		return false
	}
	a := e.Addr.Unmap()
	return (fam == 4 && a.Is4()) || (fam == 6 && a.Is6())
}

// answers is the service's answer count, within 1..maxAnswers.
func answers(s *Service) int { return min(max(s.Answers, 1), maxAnswers) }

// depends is what a service's answers vary with (see the package doc).
func depends(s *Service) Depends {
	switch {
	case s.Order != Failover:
		return OnLocation
	case s.Select == Hash:
		return OnSubnet
	}
	return Nothing
}

// stepf records a step when explaining. Callers on the answer path guard it with
// r.Explain so that formatting arguments are never built otherwise.
func (d *decider) stepf(format string, args ...any) {
	if d.r.Explain {
		d.steps = append(d.steps, fmt.Sprintf(format, args...))
	}
}

// Serves says whether ep in state st takes answers: not down, and up for one that awaits its
// first rise. The meridian_pool_* gauges and the notifications count pools with it.
func Serves(st health.State, ep *Endpoint) bool {
	if ep.AwaitRise {
		return st == health.Up
	}
	return st.Serving()
}

// Eligible says whether a pool with enabled endpoints, serving of them, takes answers under
// its minHealthy: at least one serves, and at least min(minHealthy, enabled) (a minHealthy
// below 1 counts as 1). Counted over both families, as the meridian_pool_* gauges count.
func Eligible(minHealthy, enabled, serving int) bool {
	return serving > 0 && serving >= min(max(minHealthy, 1), enabled)
}
