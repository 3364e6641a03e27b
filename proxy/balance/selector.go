package balance

import "fmt"

// Selector picks one upstream from pool, or returns nil when none is available.
// key is the value the caller extracted for stickiness (client IP, header, cookie or path
// value); policies that are not keyed ignore it.
type Selector interface {
	Select(pool []*Upstream, key string) *Upstream
}

// Interface guards.
var (
	_ Selector = (*RoundRobin)(nil)
	_ Selector = (*WeightedRoundRobin)(nil)
	_ Selector = (*LeastConn)(nil)
	_ Selector = (*IPHash)(nil)
	_ Selector = (*ConsistentHash)(nil)
	_ Selector = (*Random)(nil)
	_ Selector = (*P2C)(nil)
)

// New returns a fresh selector for the named policy; see the package documentation.
func New(name string) (Selector, error) {
	switch name {
	case "round_robin":
		return new(RoundRobin), nil
	case "weighted_round_robin":
		return new(WeightedRoundRobin), nil
	case "least_conn":
		return new(LeastConn), nil
	case "ip_hash":
		return new(IPHash), nil
	case "consistent_hash":
		return new(ConsistentHash), nil
	case "random":
		return new(Random), nil
	case "p2c":
		return new(P2C), nil
	}
	return nil, fmt.Errorf("unknown selection policy %q", name)
}
