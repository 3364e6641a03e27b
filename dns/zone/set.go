package zone

import (
	"fmt"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/config"
)

// Set is every zone of one config, immutable after New.
type Set struct {
	byOrigin map[string]*Zone
	maxDepth int // labels in the deepest origin, bounds Find's walk
}

// New builds the zones of a validated config.
func New(zones []config.Zone) (*Set, error) {
	s := &Set{byOrigin: make(map[string]*Zone, len(zones))}
	for i := range zones {
		z, err := newZone(&zones[i])
		if err != nil {
			return nil, fmt.Errorf("zone %s: %w", zones[i].Origin, err)
		}
		s.byOrigin[z.Origin] = z
		s.maxDepth = max(s.maxDepth, dns.CountLabel(z.Origin))
	}
	return s, nil
}

// Find returns the most specific zone containing qname (lower-case, fully qualified), or nil.
func (s *Set) Find(qname string) *Zone {
	if len(s.byOrigin) == 0 {
		return nil // no zones: a valid state, everything is REFUSED
	}
	name := qname
	if n := dns.CountLabel(name); n > s.maxDepth {
		// Skip labels no origin can have; an origin is never deeper than maxDepth (0: only
		// the root zone).
		name = "."
		if s.maxDepth > 0 {
			idx := dns.Split(qname)
			name = qname[idx[n-s.maxDepth]:]
		}
	}
	for {
		if z, ok := s.byOrigin[name]; ok {
			return z
		}
		if name == "." {
			return nil
		}
		i, end := dns.NextLabel(name, 0)
		if end {
			name = "."
			continue
		}
		name = name[i:]
	}
}
