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
}

// SOA holds the SOA fields; durations are in seconds.
type SOA struct {
	MName   string // default: NS[0]
	RName   string // default: "hostmaster.<origin>"
	Serial  uint32 // default: LoadedAt as Unix seconds
	Refresh uint32 // default 3600
	Retry   uint32 // default 600
	Expire  uint32 // default 604800
	Minimum uint32 // negative-caching TTL (RFC 2308); default 60
	TTL     uint32 // TTL of the SOA record itself; default: zone TTL
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
