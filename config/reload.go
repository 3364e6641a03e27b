package config

import (
	"fmt"
	"strings"
)

// ZoneLossError refuses a reload that would take most of a node's zones away: every zone, or
// more than half of those it serves. A truncated or half-written file looks exactly like
// that, so such a config takes effect only when the operator asks for it explicitly.
type ZoneLossError struct {
	Dropped []string // origins the running config serves and the new one does not
	Running int      // zones the running config serves
	Next    int      // zones the new config serves
}

func (e *ZoneLossError) Error() string {
	names := e.Dropped
	more := ""
	if len(names) > 5 {
		names, more = names[:5], fmt.Sprintf(" and %d more", len(e.Dropped)-5)
	}
	return fmt.Sprintf("the new config drops %d of the %d zones served (%s%s) and serves %d: refused, a truncated or half-written file must not take the zones away; still serving the previous config (to drop them, reload with allow_zone_loss: POST /api/v1/reload?allow_zone_loss=true or meridian reload -allow-zone-loss)",
		len(e.Dropped), e.Running, strings.Join(names, ", "), more, e.Next)
}

// CheckZoneLoss returns a *ZoneLossError when next would drop every zone of running, or more
// than half of them; nil otherwise (and always when running serves no zone).
func CheckZoneLoss(running, next *Config) error {
	if running == nil || len(running.Zones) == 0 {
		return nil
	}
	kept := make(map[string]bool, len(next.Zones))
	for _, z := range next.Zones {
		kept[z.Origin] = true
	}
	var dropped []string
	for _, z := range running.Zones { // sorted by origin
		if !kept[z.Origin] {
			dropped = append(dropped, z.Origin)
		}
	}
	if len(next.Zones) > 0 && 2*len(dropped) <= len(running.Zones) {
		return nil
	}
	return &ZoneLossError{Dropped: dropped, Running: len(running.Zones), Next: len(next.Zones)}
}
