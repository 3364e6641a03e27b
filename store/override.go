package store

import (
	"fmt"
	"time"

	"github.com/meridian-gslb/meridian/health"
)

// OverrideKind is what an operator forces on a target, whatever its probers report.
type OverrideKind uint8

const (
	None      OverrideKind = iota // no override: the quorum decides
	Drain                         // taken out of answers for maintenance: Down to policies
	ForceDown                     // Down to policies
	ForceUp                       // Up to policies, even when every prober says down
)

var overrideNames = [...]string{None: "none", Drain: "drain", ForceDown: "force-down", ForceUp: "force-up"}

func (k OverrideKind) String() string {
	if int(k) < len(overrideNames) {
		return overrideNames[k]
	}
	return fmt.Sprintf("OverrideKind(%d)", k)
}

// MarshalText writes the kind's name ("drain"), for the state file and the JSON API.
func (k OverrideKind) MarshalText() ([]byte, error) {
	if int(k) >= len(overrideNames) {
		return nil, fmt.Errorf("invalid override kind %d", k)
	}
	return []byte(overrideNames[k]), nil
}

// UnmarshalText reads a kind's name.
func (k *OverrideKind) UnmarshalText(b []byte) error {
	for i, name := range overrideNames {
		if string(b) == name {
			*k = OverrideKind(i)
			return nil
		}
	}
	return fmt.Errorf("unknown override kind %q (want none, drain, force-down or force-up)", b)
}

// Override is an operator's decision about one target, kept until cleared.
type Override struct {
	Kind     OverrideKind
	Who, Why string
	At       time.Time // when it was set; SetOverride fills in the store's clock when zero
}

// apply returns what policies see under the override, given the quorum's aggregate.
func (o Override) apply(aggregate health.State) health.State {
	switch o.Kind {
	case Drain, ForceDown:
		return health.Down
	case ForceUp:
		return health.Up
	}
	return aggregate
}

func (o Override) cause() string {
	if o.Kind == None {
		return "override cleared"
	}
	c := "override " + o.Kind.String()
	if o.Who != "" {
		c += " by " + o.Who
	}
	if o.Why != "" {
		c += ": " + o.Why
	}
	return c
}
