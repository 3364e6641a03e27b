package store

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/health/measure"
)

// MeasureOptions tune a Measurements table; the zero value is usable.
type MeasureOptions struct {
	// TTL: a proxy's report counts until this long after it arrived. Default 25s, five of
	// the proxies' default report intervals.
	TTL time.Duration
	// MaxPrefixes bounds the RTTs kept from one report; the rest are ignored. Default 100000.
	MaxPrefixes int
	Now         func() time.Time      // default time.Now
	Registerer  prometheus.Registerer // meridian_latency_measurements; nil: none
}

// Measurements is the node's table of what its proxies measure: client RTTs per (client
// prefix, region) and in-flight load per backend, from each proxy's latest report. It lives in
// memory only: measurements are minutes-fresh by nature, so a restarted node waits for the
// next reports (seconds) rather than trusting old ones. Record is the measure.Sink of local
// and remote proxies; the lookups read an immutable snapshot through an atomic pointer and
// never lock, for the DNS path.
type Measurements struct {
	o    MeasureOptions
	mu   sync.Mutex // serialises Record
	view atomic.Pointer[measureView]
}

// measureView is every fresh proxy report, indexed for the lookups.
type measureView struct {
	byRegion map[string][]*proxyTable
	all      []*proxyTable
}

// proxyTable is one proxy's latest report.
type proxyTable struct {
	proxy, region string
	at            time.Time // when it arrived (the node's clock)
	rtts          map[netip.Prefix]measure.PrefixRTT
	loads         map[string]int64
}

var _ measure.Sink = (*Measurements)(nil)

// NewMeasurements returns an empty table.
func NewMeasurements(o MeasureOptions) *Measurements {
	if o.TTL <= 0 {
		o.TTL = 5 * measure.DefaultInterval
	}
	if o.MaxPrefixes <= 0 {
		o.MaxPrefixes = 100000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Measurements{o: o}
	m.view.Store(&measureView{byRegion: map[string][]*proxyTable{}})
	if o.Registerer != nil {
		o.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "meridian", Subsystem: "latency", Name: "measurements",
			Help: "Fresh client-prefix round-trip times reported by proxies, over all regions.",
		}, func() float64 { return float64(m.Len()) }))
	}
	return m
}

// TTL is how long a report counts.
func (m *Measurements) TTL() time.Duration { return m.o.TTL }

// Record replaces r.Proxy's previous report with r, and drops reports past the TTL.
// RTTs of prefixes other than a /24 (IPv4) or /48 (IPv6) are ignored: clients are looked up
// by those.
func (m *Measurements) Record(_ context.Context, r measure.Report) error {
	if r.Proxy == "" {
		return fmt.Errorf("report names no proxy")
	}
	now := m.o.Now()
	t := &proxyTable{proxy: r.Proxy, region: r.Region, at: now,
		rtts: make(map[netip.Prefix]measure.PrefixRTT, min(len(r.RTTs), m.o.MaxPrefixes)), loads: make(map[string]int64, len(r.Load))}
	if r.Region != "" {
		for _, p := range r.RTTs {
			if len(t.rtts) >= m.o.MaxPrefixes {
				break
			}
			if p.RTT <= 0 || !p.Prefix.IsValid() || p.Prefix != measure.ClientPrefix(p.Prefix.Addr()) {
				continue
			}
			t.rtts[p.Prefix] = p
		}
	}
	for _, l := range r.Load {
		if l.ID != "" {
			t.loads[l.ID] += max(l.InFlight, 0)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.view.Load()
	v := &measureView{byRegion: map[string][]*proxyTable{}}
	for _, pt := range old.all {
		if pt.proxy != r.Proxy && now.Sub(pt.at) <= m.o.TTL {
			v.add(pt)
		}
	}
	v.add(t)
	m.view.Store(v)
	return nil
}

func (v *measureView) add(t *proxyTable) {
	v.all = append(v.all, t)
	if t.region != "" && len(t.rtts) > 0 {
		v.byRegion[t.region] = append(v.byRegion[t.region], t)
	}
}

// Measured is the proxies' view of one client prefix's RTT to one region.
type Measured struct {
	Prefix  netip.Prefix
	RTT     time.Duration // samples-weighted over the proxies of the region that measured it
	Samples uint64
	Age     time.Duration // since the freshest report holding it arrived
}

// ClientRTT is the fresh measured RTT from the prefix of client a to region, if any.
func (m *Measurements) ClientRTT(a netip.Addr, region string) (time.Duration, bool) {
	ms, ok := m.Measured(a, region)
	return ms.RTT, ok
}

// Measured is ClientRTT with the evidence.
func (m *Measurements) Measured(a netip.Addr, region string) (Measured, bool) {
	ts := m.view.Load().byRegion[region]
	if len(ts) == 0 || !a.IsValid() {
		return Measured{}, false
	}
	now := m.o.Now()
	p := measure.ClientPrefix(a)
	out := Measured{Prefix: p, Age: -1}
	var sum float64
	for _, t := range ts {
		age := now.Sub(t.at)
		if age > m.o.TTL {
			continue
		}
		e, ok := t.rtts[p]
		if !ok {
			continue
		}
		w := float64(max(e.Samples, 1))
		sum += float64(e.RTT) * w
		out.Samples += max(e.Samples, 1)
		if out.Age < 0 || age < out.Age {
			out.Age = age
		}
	}
	if out.Samples == 0 {
		return Measured{}, false
	}
	out.RTT = time.Duration(sum / float64(out.Samples))
	return out, true
}

// DescribeRTT says where ClientRTT's answer for a and region comes from, for explain:
// "proxy measurement of 81.2.69.0/24 (12 samples, age 3s)", or "" when there is none.
func (m *Measurements) DescribeRTT(a netip.Addr, region string) string {
	ms, ok := m.Measured(a, region)
	if !ok {
		return ""
	}
	return fmt.Sprintf("proxy measurement of %s (%d samples, age %v)", ms.Prefix, ms.Samples, ms.Age.Round(time.Second))
}

// InFlight is the in-flight count of the backend with endpoint ID id, summed over the proxies
// whose fresh reports name it.
func (m *Measurements) InFlight(id string) (int64, bool) {
	v := m.view.Load()
	if len(v.all) == 0 {
		return 0, false
	}
	now := m.o.Now()
	var n int64
	found := false
	for _, t := range v.all {
		if now.Sub(t.at) > m.o.TTL {
			continue
		}
		if x, ok := t.loads[id]; ok {
			n, found = n+x, true
		}
	}
	return n, found
}

// Len is the number of fresh prefix RTTs held, over all proxies.
func (m *Measurements) Len() int {
	v := m.view.Load()
	now := m.o.Now()
	n := 0
	for _, t := range v.all {
		if now.Sub(t.at) <= m.o.TTL {
			n += len(t.rtts)
		}
	}
	return n
}
