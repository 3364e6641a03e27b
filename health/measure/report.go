package measure

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// DefaultInterval is how often a proxy reports; a node forgets a report a few intervals old.
const DefaultInterval = 5 * time.Second

// Report is what one proxy knows at one moment.
type Report struct {
	// Proxy names the reporting proxy; a node keeps each proxy's report apart, so two
	// proxies in front of one backend add up.
	Proxy string `json:"proxy"`
	// Region is where the proxy runs: the RTTs are from the clients to this region.
	Region string        `json:"region"`
	At     time.Time     `json:"at"`
	RTTs   []PrefixRTT   `json:"rtts"`
	Load   []BackendLoad `json:"load"`
}

// PrefixRTT is the smoothed round-trip time of the clients in one prefix.
type PrefixRTT struct {
	Prefix  netip.Prefix  `json:"prefix"`
	RTT     time.Duration `json:"rtt_ns"`
	Samples uint64        `json:"samples"` // connections measured, all time
}

// BackendLoad is one backend's requests or connections in flight. ID is the endpoint ID the
// GSLB knows the backend by ("pool/address", config.Pool.EndpointID).
type BackendLoad struct {
	ID       string `json:"id"`
	InFlight int64  `json:"in_flight"`
}

// Sink takes reports: the node's measurement table, or a push to remote nodes.
type Sink interface {
	Record(ctx context.Context, r Report) error
}

// Prefix lengths clients are aggregated by.
const (
	Bits4 = 24
	Bits6 = 48
)

// ClientPrefix is the prefix a client address is aggregated under: its /24 (IPv4, mapped
// addresses included) or /48 (IPv6).
func ClientPrefix(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := Bits6
	if a.Is4() {
		bits = Bits4
	}
	p, _ := a.Prefix(bits)
	return p
}

// Loads turns per-backend in-flight counts keyed by endpoint ID (proxy.Set.InFlight) into a
// report's Load, sorted by ID.
func Loads(inFlight map[string]int64) []BackendLoad {
	out := make([]BackendLoad, 0, len(inFlight))
	for id, n := range inFlight {
		out = append(out, BackendLoad{ID: id, InFlight: n})
	}
	slices.SortFunc(out, func(a, b BackendLoad) int { return strings.Compare(a.ID, b.ID) })
	return out
}
