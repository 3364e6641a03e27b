package config

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// kindKeys are the keys of one kind of monitor or another.
var kindKeys = []string{"method", "path", "host", "headers", "expect_status", "expect_body", "body_regexp",
	"max_body", "follow_redirects", "insecure", "server_name", "send", "expect", "qname", "qtype",
	"expect_rcode", "expect_answer"}

// monitorKinds are the probes a monitor can run.
var monitorKinds = []string{"http", "https", "tcp", "dns"}

// Monitor is one [monitors.NAME] table: how to probe the endpoints of the pools that name it.
type Monitor struct {
	Name string
	Kind string // http, https, tcp, dns
	// Interval between probes (default 5s), Timeout of one probe (default: half the interval,
	// at most 5s), Jitter (default a tenth of the interval).
	Interval, Timeout, Jitter time.Duration
	Rise, Fall                int    // defaults 2 and 3
	Port                      uint16 // where to probe endpoints without a probe address; defaults http 80, https 443, dns 53; tcp none (endpoints then need probe addresses)
	// Quorum of fresh prober reports that decide a target's state: Count (≥1) or Fraction
	// (0..1]; both zero means a majority.
	QuorumCount    int
	QuorumFraction float64

	Method, Path, Host string
	Headers            map[string]string
	ExpectStatus       []int
	ExpectBody         string
	BodyRegexp         string // compiled by Load, so it is valid
	MaxBody            int64
	FollowRedirects    bool
	Insecure           bool
	ServerName         string

	Send, Expect string

	QName        string
	QType        uint16
	ExpectRcode  int
	ExpectAnswer string

	Line int
}

func decodeMonitors(o *obj) []Monitor {
	if o == nil {
		return nil
	}
	var out []Monitor
	o.Each(func(name string, mo *obj) {
		defer mo.Done()
		if !poolName.MatchString(name) {
			mo.d.add(mo.pos, mo.path, fmt.Sprintf("%q is not a valid monitor name (lower-case letters, digits, - and _)", name))
		}
		m := Monitor{Name: name, Line: mo.pos.line}
		kind, kv := mo.Word("kind", "", monitorKinds...)
		if kv == nil && mo.t.m["kind"] == nil {
			mo.problem(nil, "kind", "is required: one of %s", strings.Join(monitorKinds, ", "))
		}
		m.Kind = kind
		m.Interval, _ = mo.Duration("interval", 5*time.Second, 100*time.Millisecond, time.Hour)
		m.Timeout, _ = mo.Duration("timeout", min(m.Interval/2, 5*time.Second), 10*time.Millisecond, time.Minute)
		if tv := mo.t.m["timeout"]; tv != nil && m.Timeout > m.Interval {
			mo.problem(tv, "timeout", "%v is longer than the interval %v", m.Timeout, m.Interval)
		}
		m.Jitter, _ = mo.Duration("jitter", m.Interval/10, 0, m.Interval/2)
		rise, _ := mo.Int("rise", 2, 1, 100)
		fall, _ := mo.Int("fall", 3, 1, 100)
		m.Rise, m.Fall = int(rise), int(fall)
		port, _ := mo.Int("port", 0, 1, 65535)
		m.Port = uint16(port)
		if q := mo.get("quorum"); q != nil {
			switch {
			case q.kind == kInteger && q.num >= 1 && q.num <= 1000:
				m.QuorumCount = int(q.num)
			case q.kind == kFloat:
				f, _ := mo.Float("quorum", 0, 0, 1)
				if f <= 0 {
					mo.problem(q, "quorum", "a fraction must be above 0 (e.g. 0.5), or give a count such as 2")
				}
				m.QuorumFraction = f
			default:
				mo.problem(q, "quorum", "want a count of probers (e.g. 2) or a fraction (e.g. 0.5)")
			}
		}
		switch m.Kind {
		case "http", "https":
			decodeHTTPMonitor(mo, &m)
		case "tcp":
			m.Send, _ = mo.String("send", "")
			m.Expect, _ = mo.String("expect", "")
		case "dns":
			decodeDNSMonitor(mo, &m)
		default: // no kind: its keys are not known to be wrong, so say nothing of them
			mo.known = append(mo.known, kindKeys...)
		}
		out = append(out, m)
	})
	o.Done()
	slices.SortFunc(out, func(a, b Monitor) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func decodeHTTPMonitor(o *obj, m *Monitor) {
	m.Method, _ = o.Word("method", "get", "get", "head", "post", "options")
	m.Method = strings.ToUpper(m.Method)
	m.Path, _ = o.String("path", "/")
	if !strings.HasPrefix(m.Path, "/") {
		o.problem(o.t.m["path"], "path", "%q must start with /", m.Path)
	}
	m.Host, _ = o.String("host", "")
	if hv := o.Table("headers"); hv != nil {
		m.Headers = map[string]string{}
		hv.EachString(func(k, v string, _ *value) { m.Headers[http.CanonicalHeaderKey(k)] = v })
		hv.Done()
	}
	if sv := o.get("expect_status"); sv != nil {
		if sv.kind != kArray {
			o.wrongType(sv, "expect_status", "an array of status codes")
		}
		for i, e := range sv.arr {
			if e.kind != kInteger || e.num < 100 || e.num > 599 {
				o.problem(e, fmt.Sprintf("expect_status[%d]", i), "want an HTTP status code 100..599")
				continue
			}
			m.ExpectStatus = append(m.ExpectStatus, int(e.num))
		}
	}
	m.ExpectBody, _ = o.String("expect_body", "")
	if re, rv := o.String("body_regexp", ""); rv != nil {
		if _, err := regexp.Compile(re); err != nil {
			o.problem(rv, "body_regexp", "%v", err)
		} else {
			m.BodyRegexp = re
		}
	}
	mb, _ := o.Int("max_body", 64<<10, 1, 16<<20)
	m.MaxBody = mb
	m.FollowRedirects, _ = o.Bool("follow_redirects", false)
	m.Insecure, _ = o.Bool("insecure", false)
	m.ServerName, _ = o.String("server_name", "")
	if m.Port == 0 {
		m.Port = 80
		if m.Kind == "https" {
			m.Port = 443
		}
	}
}

func decodeDNSMonitor(o *obj, m *Monitor) {
	q, qv := o.String("qname", "")
	if qv == nil {
		o.problem(nil, "qname", "is required for a dns monitor: the name to ask")
	} else if _, ok := dns.IsDomainName(q); !ok {
		o.problem(qv, "qname", "%q is not a domain name", q)
	}
	m.QName = dns.Fqdn(q)
	t, tv := o.String("qtype", "A")
	qt, ok := dns.StringToType[strings.ToUpper(t)]
	if !ok {
		o.problem(tv, "qtype", "%q is not a record type", t)
	}
	m.QType = qt
	rc, rv := o.String("expect_rcode", "NOERROR")
	code, ok := dns.StringToRcode[strings.ToUpper(rc)]
	if !ok {
		o.problem(rv, "expect_rcode", "%q is not a response code such as NOERROR or NXDOMAIN", rc)
	}
	m.ExpectRcode = code
	m.ExpectAnswer, _ = o.String("expect_answer", "")
	if m.Port == 0 {
		m.Port = 53
	}
}
