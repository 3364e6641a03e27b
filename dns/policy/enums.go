package policy

import "fmt"

// Order is how a service ranks its pools into tiers.
type Order uint8

const (
	Failover  Order = iota // configured order, one pool per tier
	Geo                    // region matching the client's subdivision, country or continent first
	Proximity              // nearest region first, by biased great-circle distance
	Latency                // lowest measured RTT first; Proximity without measurements
)

// Select is how a decision picks addresses among the candidates of the winning tier.
type Select uint8

const (
	Weighted Select = iota // weighted random sampling without replacement
	Random                 // uniform random sampling without replacement
	Hash                   // weighted rendezvous hashing on the client subnet
)

// AllDown is what a service answers when no pool is eligible.
type AllDown uint8

const (
	FailOpen     AllDown = iota // the first ordered pool's enabled endpoints, ignoring health
	UseFallback                 // the Fallback pool's enabled endpoints, ignoring health
	FailNoData                  // an empty answer
	FailServFail                // SERVFAIL
)

// Outcome is the kind of answer.
type Outcome uint8

const (
	Answer   Outcome = iota // Decision.Addrs holds at least one address
	NoData                  // no records of the family
	ServFail                // the server fails the query
)

// Depends says what a decision varies with, so the caller can scope an ECS reply.
type Depends uint8

const (
	Nothing    Depends = iota // every client gets the same answer (scope 0)
	OnLocation                // the order used the client's location (scope: the geo prefix)
	OnSubnet                  // hash selection per client subnet (scope: SubnetBits)
)

// String returns the TOML word: failover, geo, proximity or latency.
func (o Order) String() string {
	switch o {
	case Failover:
		return "failover"
	case Geo:
		return "geo"
	case Proximity:
		return "proximity"
	case Latency:
		return "latency"
	}
	return fmt.Sprintf("order(%d)", uint8(o))
}

// String returns the TOML word: weighted, random or hash.
func (s Select) String() string {
	switch s {
	case Weighted:
		return "weighted"
	case Random:
		return "random"
	case Hash:
		return "hash"
	}
	return fmt.Sprintf("select(%d)", uint8(s))
}

// String returns the TOML word for on_all_down: all, fallback, nodata or servfail.
func (a AllDown) String() string {
	switch a {
	case FailOpen:
		return "all"
	case UseFallback:
		return "fallback"
	case FailNoData:
		return "nodata"
	case FailServFail:
		return "servfail"
	}
	return fmt.Sprintf("all_down(%d)", uint8(a))
}

// String returns answer, nodata or servfail.
func (o Outcome) String() string {
	switch o {
	case Answer:
		return "answer"
	case NoData:
		return "nodata"
	case ServFail:
		return "servfail"
	}
	return fmt.Sprintf("outcome(%d)", uint8(o))
}

// String returns nothing, location or subnet.
func (d Depends) String() string {
	switch d {
	case Nothing:
		return "nothing"
	case OnLocation:
		return "location"
	case OnSubnet:
		return "subnet"
	}
	return fmt.Sprintf("depends(%d)", uint8(d))
}

// ParseOrder reads a policy word: failover, geo, proximity or latency.
func ParseOrder(s string) (Order, error) { return parse(s, "policy", Latency) }

// ParseSelect reads a select word: weighted, random or hash.
func ParseSelect(s string) (Select, error) { return parse(s, "select", Hash) }

// ParseAllDown reads an on_all_down word: all, fallback, nodata or servfail.
func ParseAllDown(s string) (AllDown, error) { return parse(s, "on_all_down", FailServFail) }

// parse finds s among the words of the values 0..last.
func parse[T interface {
	~uint8
	fmt.Stringer
}](s, kind string, last T) (T, error) {
	words := make([]string, 0, int(last)+1)
	for v := range last + 1 {
		if v.String() == s {
			return v, nil
		}
		words = append(words, v.String())
	}
	return 0, fmt.Errorf("unknown %s %q (want %s)", kind, s, oneOf(words))
}

// oneOf lists words as "a, b or c".
func oneOf(words []string) string {
	s := ""
	for i, w := range words {
		switch {
		case i == 0:
		case i == len(words)-1:
			s += " or "
		default:
			s += ", "
		}
		s += w
	}
	return s
}
