package peer

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/health"
)

// Plan is the body of GET /api/v1/peer/plan: what a node probes, for remote probers to probe too.
type Plan struct {
	Targets []PlanTarget `json:"targets"`
}

// PlanTarget is one health.Target on the wire.
type PlanTarget struct {
	ID      string         `json:"id"`
	Addr    netip.AddrPort `json:"addr"`
	Monitor PlanMonitor    `json:"monitor"`
}

// PlanMonitor is a health.Monitor on the wire; durations in nanoseconds.
type PlanMonitor struct {
	Name            string            `json:"name"`
	Kind            string            `json:"kind"`
	IntervalNs      int64             `json:"interval_ns"`
	TimeoutNs       int64             `json:"timeout_ns"`
	JitterNs        int64             `json:"jitter_ns"`
	Rise            int               `json:"rise"`
	Fall            int               `json:"fall"`
	Port            uint16            `json:"port,omitempty"`
	Method          string            `json:"method,omitempty"`
	Path            string            `json:"path,omitempty"`
	Host            string            `json:"host,omitempty"`
	Headers         map[string]string `json:"headers,omitempty"`
	ExpectStatus    []int             `json:"expect_status,omitempty"`
	ExpectBody      string            `json:"expect_body,omitempty"`
	BodyRegexp      string            `json:"body_regexp,omitempty"`
	MaxBody         int64             `json:"max_body,omitempty"`
	FollowRedirects bool              `json:"follow_redirects,omitempty"`
	Insecure        bool              `json:"insecure,omitempty"`
	ServerName      string            `json:"server_name,omitempty"`
	Send            string            `json:"send,omitempty"`
	Expect          string            `json:"expect,omitempty"`
	QName           string            `json:"qname,omitempty"`
	QType           uint16            `json:"qtype,omitempty"`
	ExpectRcode     int               `json:"expect_rcode,omitempty"`
	ExpectAnswer    string            `json:"expect_answer,omitempty"`
}

// NewPlan is targets on the wire; targets without a monitor are left out.
func NewPlan(targets []health.Target) Plan {
	p := Plan{Targets: []PlanTarget{}}
	for _, t := range targets {
		m := t.Monitor
		if m == nil {
			continue
		}
		pm := PlanMonitor{
			Name: m.Name, Kind: m.Kind, IntervalNs: int64(m.Interval), TimeoutNs: int64(m.Timeout),
			JitterNs: int64(m.Jitter), Rise: m.Rise, Fall: m.Fall, Port: m.Port,
			Method: m.Method, Path: m.Path, Host: m.Host, Headers: m.Headers, ExpectStatus: m.ExpectStatus,
			ExpectBody: m.ExpectBody, MaxBody: m.MaxBody, FollowRedirects: m.FollowRedirects,
			Insecure: m.Insecure, ServerName: m.ServerName, Send: m.Send, Expect: m.Expect,
			QName: m.QName, QType: m.QType, ExpectRcode: m.ExpectRcode, ExpectAnswer: m.ExpectAnswer,
		}
		if m.BodyRegexp != nil {
			pm.BodyRegexp = m.BodyRegexp.String()
		}
		p.Targets = append(p.Targets, PlanTarget{ID: t.ID, Addr: t.Addr, Monitor: pm})
	}
	return p
}

// HealthTargets turns the plan back into targets. Targets sharing a monitor (by name and
// content) share one *health.Monitor, as they do on the node.
func (p Plan) HealthTargets() ([]health.Target, error) {
	type key struct {
		name string
		json string
	}
	monitors := map[key]*health.Monitor{}
	out := make([]health.Target, 0, len(p.Targets))
	for _, t := range p.Targets {
		if t.ID == "" || !t.Addr.IsValid() {
			return nil, fmt.Errorf("plan target %q: missing id or address", t.ID)
		}
		raw, _ := json.Marshal(t.Monitor)
		k := key{t.Monitor.Name, string(raw)}
		m := monitors[k]
		if m == nil {
			var err error
			if m, err = t.Monitor.health(); err != nil {
				return nil, fmt.Errorf("plan target %s: %w", t.ID, err)
			}
			monitors[k] = m
		}
		out = append(out, health.Target{ID: t.ID, Addr: t.Addr, Monitor: m})
	}
	return out, nil
}

func (pm PlanMonitor) health() (*health.Monitor, error) {
	m := &health.Monitor{
		Name: pm.Name, Kind: pm.Kind, Interval: time.Duration(pm.IntervalNs), Timeout: time.Duration(pm.TimeoutNs),
		Jitter: time.Duration(pm.JitterNs), Rise: pm.Rise, Fall: pm.Fall, Port: pm.Port,
		Method: pm.Method, Path: pm.Path, Host: pm.Host, Headers: pm.Headers, ExpectStatus: pm.ExpectStatus,
		ExpectBody: pm.ExpectBody, MaxBody: pm.MaxBody, FollowRedirects: pm.FollowRedirects,
		Insecure: pm.Insecure, ServerName: pm.ServerName, Send: pm.Send, Expect: pm.Expect,
		QName: pm.QName, QType: pm.QType, ExpectRcode: pm.ExpectRcode, ExpectAnswer: pm.ExpectAnswer,
	}
	if pm.BodyRegexp != "" {
		re, err := regexp.Compile(pm.BodyRegexp)
		if err != nil {
			return nil, fmt.Errorf("monitor %s: body_regexp: %w", pm.Name, err)
		}
		m.BodyRegexp = re
	}
	return m, nil
}

// PlanHandler is NewReceiver(ReceiverOptions{Secret: secret, Logger: log, Now: now}).Plan(plan):
// a handler with its own replay cache.
func PlanHandler(plan func() []health.Target, secret []byte, log *slog.Logger, now func() time.Time) http.Handler {
	return NewReceiver(ReceiverOptions{Secret: secret, Logger: log, Now: now}).Plan(plan)
}

// Plan answers signed GET requests with the plan of the node's current targets, as plan
// returns them at each request (so a config reload shows at once).
func (rv *Receiver) Plan(plan func() []health.Target) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := rv.readSigned(w, r); !ok {
			return
		}
		p := NewPlan(plan())
		rv.log.Debug("served the probe plan", "prober", clip(r.Header.Get(HeaderProber)), "remote", remoteHost(r), "targets", len(p.Targets))
		if !acceptsGzip(r) {
			writeJSON(w, http.StatusOK, p)
			return
		}
		// At the design's size (50,000 monitored endpoints) the plan is ~11 MB of JSON that
		// repeats each target's monitor; gzip makes it ~0.4 MB, so 50 probers fetching it at
		// once cost the node's uplink little. Go's client asks for gzip by default.
		setJSONHeaders(w.Header())
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		err := json.NewEncoder(zw).Encode(p)
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		if err != nil { // a plan always encodes: this is the prober's connection failing
			rv.log.Debug("probe plan not sent", "prober", clip(r.Header.Get(HeaderProber)), "err", err)
		}
	})
}

// acceptsGzip: r's Accept-Encoding lists gzip, with no q-value or one above zero.
func acceptsGzip(r *http.Request) bool {
	for _, h := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(h, ",") {
			coding, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q, hasQ := strings.CutPrefix(strings.TrimSpace(params), "q=")
			if !hasQ {
				return true
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
			return err == nil && v > 0
		}
	}
	return false
}

// maxPlan bounds a plan's (decompressed) JSON: 100,000 monitored endpoints are ~30 MB.
const maxPlan = 256 << 20

// planTimeout bounds fetching a plan: tens of megabytes uncompressed behind a slow link.
const planTimeout = 60 * time.Second

// FetchPlan asks node (a base URL such as "http://10.0.0.1:8080") for its probe plan, signed
// with secret (and a fresh nonce), as the prober named prober.
func FetchPlan(ctx context.Context, node, prober string, secret []byte) ([]health.Target, error) {
	return fetchPlan(ctx, &http.Client{Timeout: planTimeout}, node, prober, secret, time.Now())
}

func fetchPlan(ctx context.Context, c *http.Client, node, prober string, secret []byte, now time.Time) ([]health.Target, error) {
	url := strings.TrimRight(node, "/") + PlanPath
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch plan: %w", err)
	}
	sign(req.Header, secret, now, nil)
	req.Header.Set(HeaderProber, prober)
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch plan: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPlan+1))
	if err != nil {
		return nil, fmt.Errorf("fetch plan from %s: %w", url, err)
	}
	if len(body) > maxPlan {
		return nil, fmt.Errorf("fetch plan from %s: the plan is larger than %d MiB", url, maxPlan>>20)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch plan from %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
	}
	var p Plan
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("fetch plan from %s: %w", url, err)
	}
	return p.HealthTargets()
}
