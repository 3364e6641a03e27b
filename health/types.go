package health

import (
	"context"
	"net/netip"
	"regexp"
	"time"
)

// Monitor says how to probe: one [monitors.NAME] table of the config.
type Monitor struct {
	Name string
	Kind string // "http", "https", "tcp", "dns"
	// Interval between probes of one target, Timeout of one probe, Jitter: each interval is
	// Interval ± up to Jitter, so probes of many targets spread out.
	Interval, Timeout, Jitter time.Duration
	// Rise consecutive successes bring a target up; Fall consecutive failures take it down.
	Rise, Fall int
	// Port to probe when the endpoint names none (the endpoint's probe address can).
	Port uint16

	// http and https
	Method          string // default GET
	Path            string // default "/"
	Host            string // Host header; default the target address
	Headers         map[string]string
	ExpectStatus    []int          // default: any 2xx or 3xx
	ExpectBody      string         // substring the body must contain, "" for none
	BodyRegexp      *regexp.Regexp // or a regular expression it must match, nil for none
	MaxBody         int64          // bytes of body read to check it; default 64 KiB
	FollowRedirects bool
	Insecure        bool   // https: skip certificate validation
	ServerName      string // https: SNI and the name the certificate must have; default Host

	// tcp: optional payload to send and a substring the reply must contain
	Send, Expect string

	// dns: a query to the target with the rcode and (optionally) an answer it must give
	QName        string
	QType        uint16
	ExpectRcode  int
	ExpectAnswer string // substring of one answer record's text form, "" for none
}

// Target is one thing to probe: an endpoint of a pool, with its monitor.
type Target struct {
	ID      string         // the endpoint's ID ("pool/address"), as policies know it
	Addr    netip.AddrPort // where to probe: the endpoint's probe address, or its address and the monitor's port
	Monitor *Monitor
}

// Result is what one probe found.
type Result struct {
	OK  bool
	RTT time.Duration
	Err string // why it failed, "" when OK
	At  time.Time
	// CertExpiry is the https server certificate's NotAfter (zero otherwise).
	CertExpiry time.Time
}

// Observation is one prober's view of one target after a probe: its rise/fall state (Up) and
// the probe that led to it. Probers report one after every probe, so freshness shows.
type Observation struct {
	Target string // Target.ID
	Prober string // the prober's name (a node's name for its local prober)
	Region string // where a remote prober runs (meridian probe -region), "" for a node's own
	Up     bool
	// Undecided: the prober has not seen rise successes or fall failures in a row yet (its
	// state is Unknown). The report shows the prober is alive but is no vote either way.
	Undecided bool
	RTT       time.Duration
	Err       string
	At        time.Time
}

// Prober runs one kind of probe.
type Prober interface {
	Probe(ctx context.Context, t Target) Result
}

// Sink takes observations: the local store, or a publisher to remote nodes.
type Sink interface {
	Record(ctx context.Context, o Observation) error
}
