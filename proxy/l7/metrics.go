package l7

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/proxy/stats"
)

// metrics caches the listener's children of the shared vectors, so that counting a
// request is a map read and atomic adds, with no label hashing or allocation. A nil
// *stats.Metrics gives a metrics that records nothing.
type metrics struct {
	m    *stats.Metrics
	name string

	mu   sync.RWMutex
	reqs map[reqKey]prometheus.Counter

	duration prometheus.Observer
	bytesIn  prometheus.Counter
	bytesOut prometheus.Counter
	conns    prometheus.Counter
	active   prometheus.Gauge
	retries  prometheus.Counter
}

type reqKey struct {
	backend string
	code    int
}

// Rejection reasons, the stats.Rejected label values.
const (
	rejRateLimit   = "rate_limit"
	rejMaxConns    = "max_conns"
	rejBackendFull = "backend_max_conns"
	rejNoBackend   = "no_backend"
	rejSpillCap    = "spill_cap"
	rejHeaderLarge = "header_too_large"
	rejBadRequest  = "bad_request"
)

func newMetrics(m *stats.Metrics, name string) *metrics {
	x := &metrics{m: m, name: name, reqs: make(map[reqKey]prometheus.Counter)}
	if m == nil {
		return x
	}
	x.duration = m.Duration.WithLabelValues(name)
	x.bytesIn = m.Bytes.WithLabelValues(name, "in")
	x.bytesOut = m.Bytes.WithLabelValues(name, "out")
	x.conns = m.Connections.WithLabelValues(name)
	x.active = m.Active.WithLabelValues(name)
	x.retries = m.Retries.WithLabelValues(name)
	return x
}

// request counts one finished request.
func (x *metrics) request(backend string, code int, start time.Time, in, out int64) {
	if x.m == nil {
		return
	}
	k := reqKey{backend, code}
	x.mu.RLock()
	c := x.reqs[k]
	x.mu.RUnlock()
	if c == nil {
		c = x.m.Requests.WithLabelValues(x.name, backend, strconv.Itoa(code))
		x.mu.Lock()
		x.reqs[reqKey{string([]byte(backend)), code}] = c
		x.mu.Unlock()
	}
	c.Inc()
	x.duration.Observe(time.Since(start).Seconds())
	if in > 0 {
		x.bytesIn.Add(float64(in))
	}
	if out > 0 {
		x.bytesOut.Add(float64(out))
	}
}

func (x *metrics) connOpened() {
	if x.m != nil {
		x.conns.Inc()
		x.active.Inc()
	}
}

func (x *metrics) connClosed() {
	if x.m != nil {
		x.active.Dec()
	}
}

func (x *metrics) retry() {
	if x.m != nil {
		x.retries.Inc()
	}
}

func (x *metrics) rejected(reason string) {
	if x.m != nil {
		x.m.Rejected.WithLabelValues(x.name, reason).Inc()
	}
}

func (x *metrics) ejected(backend string) {
	if x.m != nil {
		x.m.Ejections.WithLabelValues(x.name, backend).Inc()
	}
}
