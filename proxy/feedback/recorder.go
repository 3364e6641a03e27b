package feedback

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/health/measure"
)

// Recorder defaults.
const (
	DefaultMaxPrefixes = 10000
	DefaultMaxAge      = 10 * time.Minute
)

// rttWeight is the share of a new connection's RTT in its prefix's estimate (an EWMA, as TCP
// smooths its own samples with 1/8; connections are fewer than segments, so faster).
const rttWeight = 0.25

// Options configure a Recorder; only Proxy and Region matter to the nodes.
type Options struct {
	Proxy  string // this proxy's name, unique among the proxies reporting to a node
	Region string // the region the proxy serves
	// Loads returns the backends' in-flight counts at report time; nil: none reported.
	Loads func() []measure.BackendLoad
	// MaxPrefixes bounds the prefixes kept; the least recently seen is evicted first.
	// Default DefaultMaxPrefixes.
	MaxPrefixes int
	// MaxAge: a prefix with no connection measured for this long is dropped. Default
	// DefaultMaxAge.
	MaxAge     time.Duration
	Now        func() time.Time      // default time.Now
	Logger     *slog.Logger          // default: discard
	Registerer prometheus.Registerer // meridian_proxy_feedback_prefixes; nil: none
}

// Recorder aggregates client RTTs per prefix. It is the L4/L7 listeners' ConnObserver and is
// safe for concurrent use; memory is bounded by MaxPrefixes.
type Recorder struct {
	o   Options
	log *slog.Logger

	mu sync.Mutex
	m  map[netip.Prefix]*entry
	// head is the most recently seen prefix, tail the least: a doubly linked list through the
	// entries, so an update moves its entry to the front without allocating.
	head, tail *entry
}

// entry is one prefix's estimate.
type entry struct {
	prefix     netip.Prefix
	rtt        float64 // nanoseconds, smoothed
	samples    uint64
	seen       time.Time
	prev, next *entry
}

// NewRecorder returns an empty recorder.
func NewRecorder(o Options) *Recorder {
	if o.MaxPrefixes <= 0 {
		o.MaxPrefixes = DefaultMaxPrefixes
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{o: o, log: o.Logger.With("component", "feedback"), m: make(map[netip.Prefix]*entry)}
	if o.Registerer != nil {
		o.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "meridian", Subsystem: "proxy", Name: "feedback_prefixes",
			Help: "Client prefixes the proxy holds a round-trip time for.",
		}, func() float64 { return float64(r.Len()) }))
	}
	return r
}

// ObserveConn reads the kernel's smoothed RTT of a client connection (call it just before
// closing, when the estimate has seen the most traffic) and adds it to the client's prefix.
// Connections without an RTT yet (tcpi_rtt 0) are skipped.
func (r *Recorder) ObserveConn(c *net.TCPConn) {
	if c == nil {
		return
	}
	rtt, err := connRTT(c)
	if err != nil || rtt <= 0 {
		if err != nil {
			r.log.Debug("no tcp_info", "err", err)
		}
		return
	}
	ta, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok || ta == nil {
		return
	}
	a, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return
	}
	r.Observe(a, rtt)
}

// Observe adds one RTT sample for a client at a (ObserveConn without the socket).
func (r *Recorder) Observe(a netip.Addr, rtt time.Duration) {
	p := measure.ClientPrefix(a)
	if !p.IsValid() || rtt <= 0 {
		return
	}
	now := r.o.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.m[p]
	switch {
	case e != nil:
		e.rtt += rttWeight * (float64(rtt) - e.rtt)
		r.unlink(e)
	case len(r.m) >= r.o.MaxPrefixes:
		e = r.tail // evict the least recently seen, reusing its entry
		r.unlink(e)
		delete(r.m, e.prefix)
		*e = entry{prefix: p, rtt: float64(rtt)}
		r.m[p] = e
	default:
		e = &entry{prefix: p, rtt: float64(rtt)}
		r.m[p] = e
	}
	e.samples++
	e.seen = now
	r.pushFront(e)
}

func (r *Recorder) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		r.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		r.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (r *Recorder) pushFront(e *entry) {
	e.next = r.head
	if r.head != nil {
		r.head.prev = e
	}
	r.head = e
	if r.tail == nil {
		r.tail = e
	}
}

// Len is the number of prefixes held.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.m)
}

// Snapshot drops the prefixes not seen for MaxAge and returns the rest, most recently seen
// first, with the backends' loads.
func (r *Recorder) Snapshot() measure.Report {
	now := r.o.Now()
	rep := measure.Report{Proxy: r.o.Proxy, Region: r.o.Region, At: now}
	r.mu.Lock()
	for e := r.tail; e != nil && now.Sub(e.seen) > r.o.MaxAge; e = r.tail {
		r.unlink(e)
		delete(r.m, e.prefix)
	}
	rep.RTTs = make([]measure.PrefixRTT, 0, len(r.m))
	for e := r.head; e != nil; e = e.next {
		rep.RTTs = append(rep.RTTs, measure.PrefixRTT{Prefix: e.prefix, RTT: time.Duration(e.rtt), Samples: e.samples})
	}
	r.mu.Unlock()
	if r.o.Loads != nil {
		rep.Load = r.o.Loads()
	}
	return rep
}
