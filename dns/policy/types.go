package policy

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/meridian-gslb/meridian/health"
)

// Region is a named place that pools live in.
type Region struct {
	Name      string
	Lat, Lon  float64
	HasCoords bool
	// Bias (-99..99) scales proximity distances to this region, Route 53 geoproximity style:
	// biased distance = distance × (1 − Bias/100). A positive bias attracts clients.
	Bias         float64
	Continents   []string // "EU"; codes upper case
	Countries    []string // "DE"
	Subdivisions []string // "US-CA"
}

// Endpoint is one address a service can answer.
type Endpoint struct {
	ID      string     // unique, e.g. "pool/addr"; the key for HealthView
	Addr    netip.Addr // v4 or v6
	Weight  uint32     // >= 1
	Enabled bool       // false: never answered, not even when failing open
	// AwaitRise: Unknown health does not serve it, only Up (an endpoint registered at run time
	// waits for its first probes); otherwise only Down keeps it out.
	AwaitRise bool
	Dynamic   bool // registered at run time, not in the config file (listings show it)
}

// Pool is the endpoints of one region for one service.
type Pool struct {
	Name      string
	Region    *Region
	Endpoints []Endpoint
	// MinHealthy (>= 1): the pool is eligible while at least min(MinHealthy, its enabled
	// endpoints of the family) are serving.
	MinHealthy int
	// MaxInFlight > 0: an endpoint whose proxy reports at least this many requests in flight
	// (Request.Load) is full and counts as not serving, so the pool spills as if it were down.
	MaxInFlight int
}

// Service is one load-balanced name.
type Service struct {
	Name      string
	Order     Order
	Select    Select
	Pools     []*Pool // configured order
	Answers   int     // addresses to return, 1..8; fewer when fewer are up
	Fallback  *Pool   // may be nil
	OnAllDown AllDown
	// Tolerance: with Proximity and Latency, pools within this fraction of a tier's best
	// distance or RTT share the tier. 0 means 0.05.
	Tolerance float64

	// havs memoises the haversines between the pools' regions, which geo orders need on
	// every decision and which never change: filled on first use.
	havs atomic.Pointer[map[[2]*Region]float64]
}

// Location is where the geo database puts a client.
type Location struct {
	Continent, Country, Subdivision string // "EU", "DE", "DE-BE"
	Lat, Lon                        float64
	HasCoords                       bool
	// Region is set when an operator's override ([geo] nets) places the client in a region:
	// geo matches it above any subdivision, and the caller gives its coordinates.
	Region string
}

// Client is whom a decision is for.
type Client struct {
	Addr    netip.Addr // the ECS address, or the socket's
	Loc     Location
	Located bool // Loc came from a database hit
}

// HealthView is all a decision needs from health state.
type HealthView interface {
	State(endpointID string) health.State
}

// LatencySource gives the measured round-trip time from a client to a region, when known.
// *LatencyTable is one.
type LatencySource interface {
	RTT(c Client, region string) (time.Duration, bool)
}

// LoadView gives the in-flight load proxies report for an endpoint, when fresh.
type LoadView interface {
	InFlight(endpointID string) (int64, bool)
}

// RTTExplainer is a LatencySource that can say where an RTT came from ("latency table",
// "proxy measurement of …"); Decide asks it only when explaining.
type RTTExplainer interface {
	ExplainRTT(c Client, region string) string
}

// EvidenceView says in words why an endpoint is in its state — since when, the cause, each
// prober's latest report — for explain. *store.View is one.
type EvidenceView interface {
	HealthView
	Evidence(endpointID string) string
}

// SinceView is a HealthView that also knows when an endpoint's state last changed: a decision
// over an endpoint that changed within Request.Recently is Degraded.
type SinceView interface {
	HealthView
	Since(endpointID string) time.Time
}

// Request is the input of one decision.
type Request struct {
	Service *Service
	Client  Client
	Family  int           // 4 for A, 6 for AAAA: only endpoints of that family count
	Health  HealthView    // nil: everything Unknown, so serving
	Latency LatencySource // may be nil
	Load    LoadView      // nil: no endpoint is ever full
	Explain bool          // fill Decision.Steps
	// Recently: with a SinceView, an endpoint of a pool the walk looks at whose state changed
	// less than this long before Now makes the decision Degraded (a state-aware TTL keeps
	// clients coming back while things move). 0: only down endpoints do.
	Recently time.Duration
	Now      time.Time
}

// Room holds a decision's addresses and pools instead of an allocation (DecideInto): the
// decision's slices then point into it and are valid until the caller reuses it, so a query
// path that answers and forgets allocates nothing. It is a parameter of its own, not a field
// of Request, which the explain steps let escape.
type Room struct {
	Addrs [maxAnswers]netip.Addr
	Pools [maxAnswers]string
}

// Decision is what to answer.
type Decision struct {
	Outcome    Outcome
	Addrs      []netip.Addr
	Pools      []string // the pools the addresses came from, in order of first address
	Depends    Depends
	SubnetBits int // with Select Hash: 24 for IPv4 clients, 56 for IPv6
	// Degraded: an endpoint of a pool the walk looked at was not serving, so the answer is not
	// the one a fully healthy service gives (callers may answer with a shorter TTL).
	Degraded bool
	Steps    []string // only with Request.Explain
}
