package config

import (
	"net/netip"
	"time"
)

// Config is the validated, immutable result of Load. Nothing mutates a Config after Load
// returns it; a reload builds a new one and swaps it in whole.
type Config struct {
	// Source is the file the config came from, or "embedded default".
	Source string
	// LoadedAt is when Load finished.
	LoadedAt time.Time
	Server   Server
	// Zones are sorted by Origin.
	Zones []Zone
	// Geo says where client locations come from.
	Geo Geo
	// Regions and Pools are sorted by Name; services refer to pools, pools to regions, by name.
	Regions []Region
	Pools   []Pool
	// Monitors are sorted by Name; pools name the one that checks their endpoints.
	Monitors []Monitor
	// Proxies are the local L4/L7 listeners ([proxy.NAME]), sorted by Name.
	Proxies []Proxy
	// Cluster is the [cluster] table; nil: this node alone, on bbolt.
	Cluster *Cluster
	// TSIG are the [tsig.NAME] keys zone transfers are signed with, sorted by Name.
	TSIG []TSIGKey
	// Notify are the [[notify]] webhooks, in file order.
	Notify []Notify
}

// Geo is the [geo] table.
type Geo struct {
	// Databases are .mmdb files (absolute paths), layered: for each field the first that knows
	// it wins. Empty: clients are never located, so geo/proximity services use their default order.
	Databases []string
	// Latency is a CSV file of measured RTTs (client,region,rtt_ms) for the latency policy, or "".
	Latency string
	// Watch is how often (seconds) the database files are checked for a new version; 0: only
	// on SIGHUP. Default 10.
	Watch uint32
	// Nets place client networks in regions by hand, over any database (longest prefix wins).
	Nets []Net
}

// Net is one [geo.nets] entry: clients in Prefix are in Region.
type Net struct {
	Prefix netip.Prefix
	Region string
	Line   int
}

// Region is one [regions.NAME] table: a place, and the geography it serves for the geo policy.
type Region struct {
	Name      string
	Lat, Lon  float64
	HasCoords bool
	// Bias grows (positive) or shrinks (negative) the region for the proximity policy, -99..99.
	Bias float64
	// Continents ("EU"), Countries ("DE") and Subdivisions ("US-CA") it serves, upper case.
	Continents, Countries, Subdivisions []string
	Line                                int
}

// Pool is one [pools.NAME] table: the endpoints of one region.
type Pool struct {
	Name      string
	Region    string
	Endpoints []Endpoint
	// MinHealthy: the pool takes traffic while at least this many endpoints are up. Default 1.
	MinHealthy int
	// Monitor checks the endpoints; "" for none (every enabled endpoint counts as up).
	Monitor string
	// MaxInFlight: an endpoint reporting this many in-flight requests from its proxy counts
	// as full, and the pool spills as if it were down. 0 (default): no limit.
	MaxInFlight int
	// DrainTimeout is how long a deregistered endpoint is drained before it is removed. Default 10s.
	DrainTimeout time.Duration
	// ServeBeforeRise: a registered (dynamic) endpoint is answered before its first probes say
	// it is up. Default false: it waits for them (it starts undecided).
	ServeBeforeRise bool
	// Fronts: the endpoints are the listen addresses of this region's proxies, which balance
	// over pool Fronts (config/spill.go); "" for a pool of backends.
	Fronts string
	Line   int
}

// Pool returns the pool named name.
func (c *Config) Pool(name string) (Pool, bool) {
	for _, p := range c.Pools {
		if p.Name == name {
			return p, true
		}
	}
	return Pool{}, false
}

// Monitor returns the monitor named name.
func (c *Config) Monitor(name string) (Monitor, bool) {
	for _, m := range c.Monitors {
		if m.Name == name {
			return m, true
		}
	}
	return Monitor{}, false
}

// PoolMonitors returns the monitors of the named pools that have one, in the pools' order.
func (c *Config) PoolMonitors(pools ...string) []Monitor {
	var out []Monitor
	for _, pn := range pools {
		if p, ok := c.Pool(pn); ok {
			if m, ok := c.Monitor(p.Monitor); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// AwaitsRise says whether endpoint e of p serves only once its probes say up: a registered
// endpoint of a monitored pool, unless serve_before_rise. Unknown health does not serve it.
func (p Pool) AwaitsRise(e Endpoint) bool { return e.Dynamic && !p.ServeBeforeRise && p.Monitor != "" }

// EndpointID names an endpoint of pool p everywhere health is kept: policies, probers, the
// store ("pool/address", EndpointTarget's String).
func (p Pool) EndpointID(e Endpoint) string { return EndpointTarget(p, e).String() }

// Endpoint is one address of a pool.
type Endpoint struct {
	Addr    netip.Addr
	Weight  uint32 // 1..65535, default 1
	Enabled bool   // default true
	// Probe is where the monitor probes this endpoint; invalid: Addr and the monitor's port.
	Probe netip.AddrPort
	// Dynamic: registered at run time (POST /api/v1/pools/POOL/endpoints), not in the file.
	Dynamic bool
	Line    int
}

// Service is one [zones."origin".services.NAME] table: a load-balanced name.
type Service struct {
	// Name is fully qualified and lower-case ("www.example.test.", or the origin for "@").
	Name string
	// Policy orders the pools: failover, geo, proximity or latency.
	Policy string
	// Select picks endpoints inside the chosen pool(s): weighted, random or hash.
	Select string
	// Pools in configured order (names).
	Pools []string
	// TTL of the A/AAAA answers, seconds. Default 30: it bounds how long clients keep a failed
	// endpoint after it leaves the answers.
	TTL uint32
	// DegradedTTL is the TTL while the answer is degraded (an endpoint of a pool the decision
	// looked at is down, or it spilled to another pool): shorter, so clients come back sooner
	// for the healthy answer. Default: TTL.
	DegradedTTL uint32
	// Answers is how many addresses to return, 1..8. Default 1.
	Answers int
	// Fallback pool for on_all_down = "fallback", or "".
	Fallback string
	// OnAllDown: all (fail open, default), fallback, nodata or servfail.
	OnAllDown string
	// IgnoreECS: locate clients by the query's source address even when it carries ECS.
	IgnoreECS bool
	// Tolerance: proximity/latency regions within this fraction of the best share load. Default 0.05.
	Tolerance float64
	Line      int
}

// Server is the [server] table: how this node listens and names itself.
type Server struct {
	// Node names this node in CHAOS id.server./hostname.bind. and NSID. Default: the hostname.
	Node string
	// DNS are the addresses served over UDP and TCP. Default: 127.0.0.1:5353.
	DNS []netip.AddrPort
	// HTTP is the metrics/health listener. Default: 127.0.0.1:8053. Invalid (zero) means disabled.
	HTTP netip.AddrPort
	// DataDir holds persistent state. Default: "data" beside the config file (or ./data).
	DataDir string
	// EDNSBuffer caps the UDP payload size we send. Default 1232, range 512..4096.
	EDNSBuffer uint16
	// Version is the answer to CHAOS TXT version.bind.; empty means REFUSED. Default empty.
	Version string
	// UDPSockets is how many SO_REUSEPORT UDP sockets per address. Default (0 in the file): one per CPU.
	UDPSockets int
	// FailoverTarget: services whose failover bound (monitor interval × fall + timeout + TTL) is
	// longer are warned about at load. 0: no target.
	FailoverTarget time.Duration
	// PeerSecretFile holds the shared secret remote probers sign their reports with
	// (HMAC-SHA256); "" refuses remote reports. Resolved beside the config file.
	PeerSecretFile string
	// TokenFile holds the bearer token that the HTTP API's changes (drain, overrides) require;
	// "" turns those off. Resolved beside the config file.
	TokenFile string
	// TCP bounds the DNS TCP listeners.
	TCP TCPLimits
	// Cookies is [server.cookies].
	Cookies Cookies
	// RRL is [server.rrl]: response rate limiting over UDP.
	RRL RRL
	// Dnstap is [server.dnstap]: query logging; nil: off.
	Dnstap *Dnstap
}

// RRL is the [server.rrl] table (see dns/rrl for the accounting). ResponsesPerSecond 0: off.
type RRL struct {
	ResponsesPerSecond int
	Window             time.Duration // default 15s
	Slip               int           // every Slip-th limited reply is sent truncated; default 2, 0 never
	IPv4Prefix         int           // default 24
	IPv6Prefix         int           // default 56
	Exempt             []netip.Prefix
	LogOnly            bool
	TableSize          int // default 65536
}

// Cookies is the [server.cookies] table: DNS cookies (RFC 7873, server cookies as RFC 9018).
type Cookies struct {
	Enabled bool // default true
	// SecretFile holds the 16-byte secret, 32 hex digits, that every node of a deployment shares
	// so each accepts the others' cookies; "": a random secret per node (as gdnsd does).
	SecretFile string
	// PreviousSecretFile is also accepted when checking, for the overlap of a rotation.
	PreviousSecretFile string
	// MaxNoCookieResponse: a UDP reply larger than this to a query without a valid server cookie
	// is sent truncated (the client retries over TCP, or with the cookie it now has). 0: no limit.
	MaxNoCookieResponse int
}

// TCPLimits are the [server] tcp_* keys.
type TCPLimits struct {
	MaxConns          int           // open connections at once, all clients; default 1024
	MaxConnsPerClient int           // from one client address; default 16
	IdleTimeout       time.Duration // a connection with no query under way closes after this; default 10s (RFC 7766 §6.2.3), sent as the EDNS TCP keepalive (RFC 7828)
	QueryTimeout      time.Duration // from a query's first byte to its last; default 2s, so a client that trickles cannot hold a slot
}

// Zone is one [zones."origin"] table.
type Zone struct {
	// Origin is the zone apex, fully qualified and lower-case ("example.test.").
	Origin string
	// TTL is the default TTL in seconds for records that name none. Default 300.
	TTL uint32
	SOA SOA
	// NS are the zone's name servers, fully qualified, lower-case. At least one.
	NS []string
	// NSTTL is the TTL of the apex NS RRset (default: TTL).
	NSTTL uint32
	// Records are the static records, in file order.
	Records []Record
	// Services are the load-balanced names, sorted by Name.
	Services []Service
	// DNSSEC signs the zone's answers online; nil: unsigned.
	DNSSEC *DNSSEC
	// Transfer is [zones."origin".transfer]: secondaries may copy the zone; nil: no transfers.
	Transfer *Transfer
}

// DNSSEC is a zone's [zones."origin".dnssec] table: its keys and signature timing.
type DNSSEC struct {
	// Keys sign: the base paths (without .key/.private) of BIND-format key pairs, resolved
	// beside the config file. SEP keys (flags 257: a CSK, or KSKs) sign the DNSKEY RRset, the
	// others (ZSKs) the rest; a zone with no ZSK signs everything with its SEP keys.
	Keys []string
	// Publish are keys only put in the DNSKEY RRset (base paths; .key alone is read): a key
	// pre-published before it signs, or one kept while old signatures expire from caches.
	Publish []string
	// Validity of a signature from when it is made (default 14d), Backdate of its inception
	// (default 1h), and Refresh: a cached signature with less than this left is made anew
	// (default 4d; more than the zone's longest TTL, less than Validity).
	Validity, Backdate, Refresh time.Duration
	// DNSKEYTTL is the DNSKEY RRset's TTL (default: the zone's ttl).
	DNSKEYTTL uint32
}

// SOA holds the SOA fields; durations are in seconds.
type SOA struct {
	MName  string // default: NS[0]
	RName  string // default: "hostmaster.<origin>"
	Serial uint32 // default: LoadedAt as Unix seconds (a cluster: the config revision)
	// SerialDefault: the file set no serial, so Serial is the default (WithSerial replaces it).
	SerialDefault bool
	Refresh       uint32 // default 3600
	Retry         uint32 // default 600
	Expire        uint32 // default 604800
	Minimum       uint32 // negative-caching TTL (RFC 2308); default 60
	TTL           uint32 // TTL of the SOA record itself; default: zone TTL
}

// Record is one static record.
type Record struct {
	Name string // fully qualified, lower-case owner ("www.example.test.", "*.example.test.")
	Type string // upper-case mnemonic: A AAAA CNAME MX TXT SRV CAA PTR NS
	TTL  uint32
	// Text is the whole record in zone-file presentation form exactly as miekg/dns prints a parsed
	// RR (rr.String()): absolute names, e.g. "mail.example.test.\t300\tIN\tMX\t10 mx1.example.test.".
	// Load has parsed it once, so dns.NewRR(Text) cannot fail.
	Text string
	// Line is where the record was defined, for messages after Load.
	Line int
}
