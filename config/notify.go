package config

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"slices"
	"time"
)

// Notify is one [[notify]] table: a webhook told of health transitions (node/notify).
type Notify struct {
	// Name labels its metrics and log lines. Default: the URL's host; unique.
	Name string
	URL  WebhookURL
	// SecretFile holds the HMAC-SHA256 key the requests are signed with; "": unsigned.
	SecretFile string
	Format     string   // "json" (default) or "slack"
	Events     []string // kinds sent, of NotifyKinds; default all
	// Timeout bounds one attempt (default 5s); Retries more attempts follow a failed one
	// (default 3), the first after Backoff (default 1s), each next twice as long up to
	// MaxBackoff (default 30s), jittered.
	Timeout             time.Duration
	Retries             int
	Backoff, MaxBackoff time.Duration
	// MinInterval is the least time between two deliveries (0: none), Queue how many
	// notifications wait for delivery before new ones are dropped (default 256).
	MinInterval time.Duration
	Queue       int
	Line        int
}

// NotifyKinds are the kinds of transition a [[notify]] webhook can be sent.
var NotifyKinds = []string{"endpoint", "pool", "service"}

// WebhookURL is a webhook's URL. Its text form, which the config API shows, leaves out the
// path and query: a Slack incoming webhook's path is its secret.
type WebhookURL string

// MarshalText is the URL without its path and query.
func (u WebhookURL) MarshalText() ([]byte, error) {
	p, err := url.Parse(string(u))
	if err != nil || p.Host == "" {
		return []byte("<redacted>"), nil
	}
	s := p.Scheme + "://" + p.Host
	if p.Path != "" && p.Path != "/" || p.RawQuery != "" {
		s += "/<redacted>"
	}
	return []byte(s), nil
}

// Redacted is the URL as logs may show it (MarshalText).
func (u WebhookURL) Redacted() string {
	b, _ := u.MarshalText()
	return string(b)
}

func decodeNotifies(tables []*obj, file string) []Notify {
	var out []Notify
	names := map[string]int{}
	for _, o := range tables {
		n, ok := decodeNotify(o, file)
		if !ok {
			continue
		}
		if line, dup := names[n.Name]; dup {
			o.problem(o.t.m["name"], "name", "%q names the webhook on line %d too: give each [[notify]] its own name", n.Name, line)
			continue
		}
		names[n.Name] = n.Line
		out = append(out, n)
	}
	return out
}

func decodeNotify(o *obj, file string) (Notify, bool) {
	defer o.Done()
	n := Notify{Line: o.pos.line}
	ok := true
	raw, uv := o.String("url", "")
	u, err := url.Parse(raw)
	switch {
	case uv == nil:
		o.problem(nil, "url", "a webhook URL is needed (e.g. url = \"https://hooks.example.com/meridian\")")
		ok = false
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		o.problem(uv, "url", "%s is not an http:// or https:// URL", WebhookURL(raw).Redacted())
		ok = false
	default:
		n.URL = WebhookURL(raw)
	}
	name, nv := o.String("name", "")
	switch {
	case nv != nil && name == "":
		o.problem(nv, "name", "must not be empty (omit it to use the URL's host)")
		ok = false
	case nv == nil && u != nil:
		name = u.Host
	}
	n.Name = name
	n.SecretFile = secretFile(o, "secret_file", file)
	if b, err := os.ReadFile(n.SecretFile); n.SecretFile != "" && err == nil && len(bytes.TrimSpace(b)) == 0 {
		o.problem(o.t.m["secret_file"], "secret_file", "%s is empty (a random key: openssl rand -hex 32)", n.SecretFile)
	}
	n.Format, _ = o.Word("format", "json", "json", "slack")
	kinds, vals, ev := o.Strings("events")
	for i, k := range kinds {
		switch {
		case !slices.Contains(NotifyKinds, k):
			msg := fmt.Sprintf("%q is not one of endpoint, pool, service", k)
			if s := suggest(k, NotifyKinds); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			o.problem(vals[i], fmt.Sprintf("events[%d]", i), "%s", msg)
		case slices.Contains(n.Events, k):
			o.problem(vals[i], fmt.Sprintf("events[%d]", i), "%q is listed twice", k)
		default:
			n.Events = append(n.Events, k)
		}
	}
	if ev != nil && len(kinds) == 0 {
		o.problem(ev, "events", "lists no kind: omit the key to send every kind (endpoint, pool, service)")
	}
	if ev == nil {
		n.Events = slices.Clone(NotifyKinds)
	}
	n.Timeout, _ = o.Duration("timeout", 5*time.Second, 100*time.Millisecond, time.Minute)
	r, _ := o.Int("retries", 3, 0, 10)
	n.Retries = int(r)
	n.Backoff, _ = o.Duration("backoff", time.Second, 10*time.Millisecond, time.Minute)
	var mv *value
	n.MaxBackoff, mv = o.Duration("max_backoff", 30*time.Second, 10*time.Millisecond, time.Hour)
	if n.MaxBackoff < n.Backoff {
		if mv == nil {
			n.MaxBackoff = n.Backoff // only backoff is set, above the default cap
		} else {
			o.problem(mv, "max_backoff", "%v is below backoff (%v)", n.MaxBackoff, n.Backoff)
		}
	}
	n.MinInterval, _ = o.Duration("min_interval", 0, 0, time.Hour)
	q, _ := o.Int("queue", 256, 1, 100_000)
	n.Queue = int(q)
	return n, ok
}
