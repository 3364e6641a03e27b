package policy

import (
	"net/netip"

	"github.com/meridian-gslb/meridian/health"
)

// AllUp returns the addresses a decision chooses among when every endpoint is up and the
// client cannot be located: every enabled endpoint of the family in the first tier of the
// service's order, which for a client with no location is the first configured pool that has
// one, whatever the order. The answers count, weights and selection are not applied: it is the
// whole set an answer is drawn from. A zone transfer carries this for a load-balanced name,
// since a secondary can neither follow health nor locate clients. Nil: the service has no
// enabled endpoint of the family.
func AllUp(svc *Service, family int) []netip.Addr {
	d := decider{r: Request{Service: svc, Family: family, Health: allUp{}}}
	var pbuf [stackPools]ranked
	ps := d.filter(pbuf[:0])
	if len(ps) == 0 {
		return nil
	}
	d.order(ps)
	var out []netip.Addr
	for _, c := range d.walk(ps, nil) {
		out = append(out, c.ep.Addr)
	}
	return out
}

// allUp is the health view in which every endpoint is up.
type allUp struct{}

func (allUp) State(string) health.State { return health.Up }
