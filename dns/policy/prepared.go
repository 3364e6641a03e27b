package policy

// Prepared is the filter and order steps of a decision, done once for every client of one
// class (one OrderKey) and one address family: deciding for such a client then only walks the
// tiers and selects, which is what health and randomness change. The DNS server prepares one
// per class when it builds a service's ECS scope map, and so skips the geo lookup and the
// ordering on every query. A Prepared is immutable and safe for concurrent use.
type Prepared struct {
	svc    *Service
	family int
	ps     []ranked // filtered and ordered, tiers set
}

// Prepare runs the filter and order steps for a client at loc (located as OrderKey has it).
func Prepare(s *Service, loc Location, located bool, family int) *Prepared {
	d := decider{r: Request{Service: s, Client: Client{Loc: loc, Located: located}, Family: family}}
	ps := d.filter(nil)
	if len(ps) > 0 {
		d.order(ps)
	}
	return &Prepared{svc: s, family: family, ps: ps}
}

// DecidePrepared is Decide for r.Client when p was prepared for the client's class, r's
// service and family. It does not explain: use Decide for that.
func DecidePrepared(r Request, p *Prepared) Decision { return DecidePreparedInto(r, p, nil) }

// DecidePreparedInto is DecidePrepared with the decision's addresses and pools in room when it
// is not nil (see DecideInto).
func DecidePreparedInto(r Request, p *Prepared, room *Room) Decision {
	if p == nil || p.svc != r.Service || p.family != r.Family {
		return DecideInto(r, room)
	}
	if len(p.ps) == 0 {
		return Decision{Outcome: NoData}
	}
	r.Explain = false
	d := decider{r: r}
	return d.finish(p.ps, room)
}
