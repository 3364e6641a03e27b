package dns

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns/zone"
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
}

// NewHandler builds a handler serving cfg. Metrics register on reg.
func NewHandler(cfg *config.Config, log *slog.Logger, reg prometheus.Registerer) (*Handler, error) {
	h := &Handler{log: log.With("component", "dns")}
	h.metrics = newMetrics(reg, func() float64 { return float64(h.snap.Load().cache.len()) })
	if err := h.Reload(cfg); err != nil {
		return nil, err
	}
	return h, nil
}

// Reload builds a snapshot from cfg and swaps it in atomically; queries in flight finish on the
// old one.
func (h *Handler) Reload(cfg *config.Config) error {
	zs, err := zone.New(cfg.Zones)
	if err != nil {
		return fmt.Errorf("build zones: %w", err)
	}
	h.snap.Store(&snapshot{
		zones:   zs,
		node:    cfg.Server.Node,
		nsid:    hex.EncodeToString([]byte(cfg.Server.Node)),
		version: cfg.Server.Version,
		ednsMax: cfg.Server.EDNSBuffer,
		cache:   newCache(),
		loaded:  cfg.LoadedAt,
	})
	return nil
}

// Respond returns the reply to the raw query req, or nil when nothing should be sent. out is
// scratch space the reply is written into when it fits (give UDP 4 KiB, TCP 64 KiB); the result
// may alias it. src is the client, for logs and (later) steering.
func (h *Handler) Respond(out, req []byte, proto Proto, src netip.AddrPort) []byte {
	start := time.Now()
	s := h.snap.Load()
	var q query
	if parseFast(req, &q) {
		if e := s.cache.get(q.key()); e != nil && len(e.wire) <= q.limit(proto, s.ednsMax) && len(e.wire) <= cap(out) {
			resp := out[:len(e.wire)]
			copy(resp, e.wire)
			patch(resp, req, q.nameEnd)
			e.queries[proto].Inc()
			e.duration.Observe(time.Since(start).Seconds())
			return resp
		}
	}
	return h.slow(s, out, req, proto, src, start)
}
