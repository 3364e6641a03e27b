package dns

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns/cookie"
	"github.com/meridian-gslb/meridian/dns/dnssec"
	"github.com/meridian-gslb/meridian/dns/dnstap"
	"github.com/meridian-gslb/meridian/dns/policy"
	"github.com/meridian-gslb/meridian/dns/rrl"
	"github.com/meridian-gslb/meridian/dns/zone"
	"github.com/meridian-gslb/meridian/geo"
)

// Proto is the transport a query came in on.
type Proto uint8

const (
	UDP Proto = iota
	TCP
)

func (p Proto) String() string {
	if p == TCP {
		return "tcp"
	}
	return "udp"
}

// Handler answers raw queries from the current snapshot.
type Handler struct {
	snap    atomic.Pointer[snapshot]
	log     *slog.Logger
	metrics *metrics
	signing *dnssec.Metrics

	mu     sync.Mutex // serialises Reload
	health HealthSource
	// tcpIdle is the TCP idle timeout (ns) the server keeps, sent as the EDNS TCP keepalive.
	tcpIdle atomic.Int64
	// cookieSecret is this process's own cookie secret, for a config that names none.
	cookieSecret cookie.Secret
	// rrl and rrlCfg: the rate limiter and its settings; a reload that keeps them keeps its
	// buckets.
	rrl        *rrl.Limiter
	rrlCfg     config.RRL
	measured   Measurements // nil: no proxy feedback
	geoDB      *geo.DB
	geoPaths   []string
	geoWatch   time.Duration // how often WatchGeo checks the files; 0: never
	geoChanged chan struct{} // tells WatchGeo to watch the new database
	stopScopes func()        // cancels the ECS scope maps' build for an older snapshot
	xfr        *secondaries  // transfer metrics and the NOTIFY queue (notify.go)
	scopesDone chan struct{} // closed when the current build ends
	// tap logs queries (dnstap.go); nil: off. tapOpts: nil unless WithDnstap.
	tap     atomic.Pointer[dnstap.Tap]
	tapOpts *dnstap.Options
	// tables numbers the answer tables (stats.go), one per config that was asked for them.
	tables atomic.Uint64
}

// snapshot is everything one config gives the query path. Immutable but for its cache.
type snapshot struct {
	zones   *zone.Set
	node    string
	nsid    string // node name, hex-encoded as miekg/dns wants it for the NSID option
	version string
	ednsMax uint16
	cache   *cache
	loaded  time.Time
	// services by owner name; geo and latency locate clients for them (either may be nil).
	services map[string]*service
	// fastServices: load-balanced names by question (lower-case wire name, type, class).
	fastServices map[string]*fastService
	health       HealthSource // nil: every endpoint Unknown (no monitors)
	geo          Locator
	nets         *nets                         // [geo] nets: networks the operator placed in regions
	latency      *rttSource                    // nil: no latency table and no proxy feedback
	load         policy.LoadView               // the proxies' in-flight reports; nil without feedback
	keepalive    *atomic.Int64                 // the handler's tcpIdle: the EDNS TCP keepalive we send
	cookies      *cookies                      // nil: DNS cookies off
	rrl          *rrl.Limiter                  // nil: no response rate limiting
	signers      map[*zone.Zone]*dnssec.Signer // the signed zones
	transfers    map[string]*xfrZone           // the zones secondaries may copy, by origin (transfer.go)
	tsig         map[string]*tsigKey           // the [tsig] keys, by name
	// answerRows: the services' answer counters in a fixed order, built on first use.
	answerRows atomic.Pointer[answerTable]
}

// Option configures a Handler.
type Option func(*Handler)

// HealthSource gives the health view a decision reads. It is called once per decision (and
// once per listing or scrape), so every endpoint of one answer is judged by one snapshot:
// func() policy.HealthView { return store.View() } in a node.
type HealthSource func() policy.HealthView

// WithHealth makes policies consult src's current view for every endpoint.
func WithHealth(src HealthSource) Option { return func(h *Handler) { h.health = src } }

// WithMeasurements makes decisions use what the proxies report (store.Measurements): measured
// client RTTs over the latency table, and in-flight loads against pools' max_inflight.
func WithMeasurements(m Measurements) Option { return func(h *Handler) { h.measured = m } }

// NewHandler builds a handler serving cfg. Metrics register on reg.
func NewHandler(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer, opts ...Option) (*Handler, error) {
	h := &Handler{log: log.With("component", "dns"), geoChanged: make(chan struct{}, 1), cookieSecret: cookie.RandomSecret()}
	for _, o := range opts {
		o(h)
	}
	h.metrics = newMetrics(reg, func() float64 { return float64(h.snap.Load().cache.len()) })
	h.signing = dnssec.NewMetrics(reg)
	h.xfr = newSecondaries(reg, h.log)
	reg.MustRegister(endpointUp{h}, fullEndpoints{h})
	if err := h.Reload(cfg); err != nil {
		return nil, err
	}
	return h, nil
}

// Reload builds a snapshot from cfg and swaps it in atomically; queries in flight finish on the
// old one (Prepare, then Commit). On error nothing changes, but for a dnstap output that cannot
// be opened: the rest is served, without query logging, and the error returned.
func (h *Handler) Reload(cfg *config.Config) error {
	p, err := h.Prepare(cfg)
	if err != nil {
		return err
	}
	return p.commit()
}

// Prepared is a config built for the handler, not serving yet: Commit swaps it in. A node
// prepares every part of a reload before it commits any (node.Reload). One that is never
// committed holds nothing but memory (geo.Open reads the databases whole) and can be dropped.
type Prepared struct {
	h      *Handler
	cfg    *config.Config
	s      *snapshot
	db     *geo.DB // the snapshot's databases
	reread bool    // db is the running one, to be re-read from its files at Commit

	// notify are the zones with a new serial: their secondaries are told at Commit.
	notify []*xfrZone
}

// Prepare builds everything cfg needs — zones, services, the latency table, the GeoIP
// databases when the config names other files — without changing what is served. Calls to
// Prepare and Commit must not overlap (a node serialises its reloads).
func (h *Handler) Prepare(cfg *config.Config) (*Prepared, error) {
	zs, err := zone.New(cfg.Zones)
	if err != nil {
		return nil, fmt.Errorf("build zones: %w", err)
	}
	var running map[*zone.Zone]*dnssec.Signer
	if s := h.snap.Load(); s != nil {
		running = s.signers
	}
	signed, err := signers(cfg, zs, h.signing, running)
	if err != nil {
		return nil, fmt.Errorf("dnssec: %w", err)
	}
	services, overrides, err := buildServices(cfg, h.metrics)
	if err != nil {
		return nil, err
	}
	keys, err := tsigKeys(cfg)
	if err != nil {
		return nil, err
	}
	var xfrRunning map[string]*xfrZone
	if s := h.snap.Load(); s != nil {
		xfrRunning = s.transfers
	}
	xfr, notify := transfers(cfg, zs, services, keys, xfrRunning, h.log) // before anything packs the SOA
	var latency *policy.LatencyTable
	if cfg.Geo.Latency != "" {
		if latency, err = policy.LoadLatency(cfg.Geo.Latency); err != nil {
			return nil, fmt.Errorf("latency table: %w", err)
		}
	}
	ck, err := newCookies(cfg.Server.Cookies, h.cookieSecret)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	limiter, same := h.rrl, reflect.DeepEqual(h.rrlCfg, cfg.Server.RRL)
	h.mu.Unlock()
	if !same {
		if limiter, err = newRRL(cfg.Server.RRL); err != nil {
			return nil, fmt.Errorf("[server.rrl] %w", err)
		}
	}
	h.mu.Lock()
	db, paths := h.geoDB, h.geoPaths
	h.mu.Unlock()
	p := &Prepared{h: h, cfg: cfg, notify: notify}
	switch {
	case len(cfg.Geo.Databases) == 0:
		db = nil
	case db != nil && slices.Equal(cfg.Geo.Databases, paths):
		p.reread = true // the same files: SIGHUP picks up a new database at Commit
	default:
		if db, err = geo.Open(cfg.Geo.Databases, geo.Options{}); err != nil {
			return nil, fmt.Errorf("geo databases: %w", err)
		}
	}
	p.db = db
	p.s = &snapshot{
		zones:     zs,
		node:      cfg.Server.Node,
		nsid:      hex.EncodeToString([]byte(cfg.Server.Node)),
		version:   cfg.Server.Version,
		ednsMax:   cfg.Server.EDNSBuffer,
		cache:     newCache(),
		loaded:    cfg.LoadedAt,
		services:  services,
		health:    h.health,
		nets:      overrides,
		latency:   newRTTSource(latency, h.measured),
		keepalive: &h.tcpIdle,
		cookies:   ck,
		rrl:       limiter,
		signers:   signed,
		transfers: xfr,
		tsig:      keys,
	}
	if h.measured != nil {
		p.s.load = h.measured
	}
	p.s.fastServices = fastServices(zs, services, signed, h.metrics)
	if db != nil {
		p.s.geo = db
	}
	return p, nil
}

// Commit serves the prepared config from the next query on. A dnstap output that cannot be
// opened is logged, and queries are not logged until a reload opens one.
func (p *Prepared) Commit() {
	if err := p.commit(); err != nil {
		p.h.log.Error("dnstap output not opened; queries are not logged", "err", err)
	}
}

func (p *Prepared) commit() error {
	h, cfg, s, db := p.h, p.cfg, p.s, p.db
	h.mu.Lock()
	defer h.mu.Unlock()
	h.rrl, h.rrlCfg = s.rrl, cfg.Server.RRL
	if p.reread {
		if err := db.Reload(); err != nil {
			h.log.Warn("geo databases not reloaded; the loaded data keeps serving", "err", err)
		}
	} else if db != nil && db != h.geoDB {
		for _, line := range db.Describe() {
			h.log.Info("geo database", "db", line)
		}
	}
	h.snap.Store(s)
	h.xfr.queue(p.notify)
	h.metrics.bound.Reset() // services this config removed leave the metric
	for name, svc := range s.services {
		if svc.bound > 0 {
			h.metrics.bound.WithLabelValues(name).Set(svc.bound.Seconds())
		}
		if t := cfg.Server.FailoverTarget; t > 0 && svc.bound > t {
			h.log.Warn("service fails over slower than failover_target", "service", name, "bound", svc.bound, "target", t, "how", svc.boundText)
		}
	}
	h.rescope()
	if every := time.Duration(cfg.Geo.Watch) * time.Second; every != h.geoWatch {
		h.geoWatch = every
		h.notifyGeo()
	}
	if db != h.geoDB {
		old := h.geoDB
		h.geoDB, h.geoPaths = db, cfg.Geo.Databases
		if old != nil {
			_ = old.Close() // in memory: queries still on the old snapshot keep their data
		}
		h.notifyGeo()
	}
	return h.commitTap(cfg.Server.Dnstap)
}

func (h *Handler) notifyGeo() {
	select {
	case h.geoChanged <- struct{}{}:
	default:
	}
}

// WatchGeo re-reads the GeoIP databases when their files change, checking as often as the
// config's [geo] watch says, until ctx is done. A database that fails to load is logged and
// the old data keeps serving.
func (h *Handler) WatchGeo(ctx context.Context) {
	for {
		h.mu.Lock()
		db, every := h.geoDB, h.geoWatch
		h.mu.Unlock()
		wctx, cancel := context.WithCancel(ctx)
		if db != nil && every > 0 {
			go db.Watch(wctx, every, func(err error) {
				if err != nil {
					h.log.Warn("geo database changed but did not load; the old data keeps serving", "err", err)
					return
				}
				h.log.Info("geo database reloaded")
				h.mu.Lock()
				h.rescope()
				h.mu.Unlock()
			})
		}
		select {
		case <-ctx.Done():
			cancel()
			return
		case <-h.geoChanged:
			cancel()
		}
	}
}

// respondCached answers from a prepared reply (with our COOKIE option put in when the query
// has one), or returns nil for the slow path.
func (s *snapshot) respondCached(out, req []byte, q *query, ck *cookieState, proto Proto, src netip.Addr) []byte {
	start := time.Now()
	e := s.cache.get(q.key())
	if e == nil || e.refresh != 0 && start.Unix() >= e.refresh {
		return nil // none, or its signatures are due to be made anew: the slow path replaces it
	}
	size := len(e.wire)
	if ck.present {
		if e.optEnd == 0 {
			return nil
		}
		size += cookieOptLen
	}
	limit := q.limit(proto, s.ednsMax)
	if l := s.cookies.limitFor(ck); proto == UDP && l > 0 {
		limit = min(limit, l)
	}
	if size > limit || size > cap(out) {
		return nil
	}
	resp := out[:0]
	if ck.present {
		resp = append(resp, e.wire[:e.optEnd]...)
		resp = s.cookies.appendOption(resp, ck, src)
		resp = append(resp, e.wire[e.optEnd:]...)
		rdlen := u16(resp[e.optRdlen:]) + cookieOptLen
		resp[e.optRdlen], resp[e.optRdlen+1] = byte(rdlen>>8), byte(rdlen)
	} else {
		resp = append(resp, e.wire...)
	}
	patch(resp, req, q.nameEnd)
	e.queries[proto].Inc()
	e.duration.Observe(time.Since(start).Seconds())
	return resp
}

// Respond returns the reply to the raw query req, or nil when nothing should be sent. out is
// scratch space the reply is written into when it fits (give UDP 4 KiB, TCP 64 KiB); the result
// may alias it. src is the client, for logs and (later) steering.
func (h *Handler) Respond(out, req []byte, proto Proto, src netip.AddrPort) []byte {
	start := time.Now()
	if t := h.tap.Load(); t != nil {
		return h.respondTapped(t, out, req, proto, src, start)
	}
	return h.respond(out, req, proto, src, start, nil)
}

// respond is Respond for a query received at start; a policy decision it makes is copied into
// tr when tr is not nil.
func (h *Handler) respond(out, req []byte, proto Proto, src netip.AddrPort, start time.Time, tr *trace) []byte {
	s := h.snap.Load()
	var q query
	var ck cookieState
	fast := parseFast(req, &q)
	q.trace = tr
	if fast && q.cookie > 0 {
		var malformed bool
		ck, malformed = s.cookies.check(req[q.cookie+4:q.cookie+4+int(u16(req[q.cookie+2:]))], src.Addr())
		fast = !malformed // the slow path answers FORMERR
	}
	if fast {
		if q.ecs == 0 {
			if resp := s.respondCached(out, req, &q, &ck, proto, src.Addr()); resp != nil {
				return h.limitUDP(s, resp, proto, src.Addr(), &ck)
			}
		}
		if fs := s.fastServices[string(q.question())]; fs != nil {
			if resp := s.respondService(fs, out, req, &q, &ck, proto, src.Addr()); resp != nil {
				fs.queries[proto].Inc()
				fs.duration.Observe(time.Since(start).Seconds())
				return h.limitUDP(s, resp, proto, src.Addr(), &ck)
			}
		}
	}
	return h.slowTrace(s, out, req, proto, src, start, tr)
}

// limitUDP is rateLimit for UDP replies; TCP is never limited.
func (h *Handler) limitUDP(s *snapshot, resp []byte, proto Proto, src netip.Addr, ck *cookieState) []byte {
	if proto != UDP || s.rrl == nil {
		return resp
	}
	return h.rateLimit(s, resp, src, ck)
}
