package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Notification is one transition, the JSON body a webhook with format "json" is sent.
type Notification struct {
	// ID is new for each transition and kept across retries: receivers drop repeats by it.
	ID   string    `json:"id"`
	Type string    `json:"type"` // "endpoint", "pool" or "service"
	Node string    `json:"node"` // the node that decided it ([server] node)
	Time time.Time `json:"time"`
	// From and To: an endpoint's "up", "down" or "unknown"; a pool's "available" or
	// "unavailable"; a service's "available" or "all_pools_down".
	From  string `json:"from"`
	To    string `json:"to"`
	Cause string `json:"cause,omitempty"`
	// Target ("pool/address"), Endpoint (the address) and Seq (the event's in GET
	// /api/v1/events) are an endpoint's; Pool an endpoint's or a pool's; Service a service's.
	Target   string `json:"target,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	Seq      uint64 `json:"seq,omitempty"`
	Pool     string `json:"pool,omitempty"`
	Service  string `json:"service,omitempty"`
	// Services use the endpoint's or the pool's pool; Pools are the service's.
	Services []string `json:"services,omitempty"`
	Pools    []string `json:"pools,omitempty"`
	// Counts is a pool's PoolCounts or a service's ServiceCounts.
	Counts any `json:"counts,omitempty"`
}

// Kinds of Notification.
const (
	KindEndpoint = "endpoint"
	KindPool     = "pool"
	KindService  = "service"
)

// States of pools and services in a Notification.
const (
	Available    = "available"
	Unavailable  = "unavailable"
	AllPoolsDown = "all_pools_down"
)

// PoolCounts are a pool's endpoints when it changed: it is available while Serving ≥
// min(MinHealthy, Enabled) and Serving > 0.
type PoolCounts struct {
	Serving    int `json:"serving"`
	Enabled    int `json:"enabled"`
	MinHealthy int `json:"min_healthy"`
}

// ServiceCounts are a service's pools when it changed. With none available its answers
// follow OnAllDown: "all" fails open over every endpoint of its first pool, "fallback"
// answers from the fallback pool, "servfail" and "nodata" answer so.
type ServiceCounts struct {
	Available int    `json:"pools_available"`
	Pools     int    `json:"pools"`
	OnAllDown string `json:"on_all_down"`
}

// Headers of a webhook request.
const (
	HeaderTimestamp = "X-Meridian-Timestamp" // unix seconds when the attempt was sent
	HeaderSignature = "X-Meridian-Signature" // "sha256=" + Sign(secret, timestamp, body)
	HeaderDelivery  = "X-Meridian-Delivery"  // the Notification's ID
	HeaderEvent     = "X-Meridian-Event"     // the Notification's Type
)

// Sign is hex(HMAC-SHA256(secret, timestamp + "." + body)), timestamp in decimal unix
// seconds: X-Meridian-Signature without its "sha256=" prefix.
func Sign(secret []byte, ts int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a request's signature headers against body as a receiver should: the
// signature is right (compared in constant time) and the timestamp within maxSkew of now, so
// a captured request cannot be replayed later. Within the window, drop repeats by
// X-Meridian-Delivery.
func Verify(secret []byte, h http.Header, body []byte, now time.Time, maxSkew time.Duration) error {
	ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return errors.New("no valid " + HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > maxSkew || d < -maxSkew {
		return fmt.Errorf("timestamp %d is %v off", ts, d.Round(time.Second))
	}
	sig, ok := strings.CutPrefix(h.Get(HeaderSignature), "sha256=")
	if !ok {
		return errors.New("no sha256= " + HeaderSignature)
	}
	got, err := hex.DecodeString(sig)
	want, _ := hex.DecodeString(Sign(secret, ts, body))
	if err != nil || !hmac.Equal(got, want) {
		return errors.New("wrong signature")
	}
	return nil
}

// encode is n's body in format ("json" or "slack").
func encode(n *Notification, format string) ([]byte, error) {
	if format == "slack" {
		return json.Marshal(struct {
			Text string `json:"text"`
		}{slackText(n)})
	}
	return json.Marshal(n)
}

// slackText is n as one line of Slack mrkdwn.
func slackText(n *Notification) string {
	good := n.To == "up" || n.To == Available
	icon := ":red_circle:"
	switch {
	case good:
		icon = ":large_green_circle:"
	case n.Type == KindService:
		icon = ":rotating_light:"
	}
	var b strings.Builder
	b.WriteString(icon + " ")
	switch n.Type {
	case KindEndpoint:
		fmt.Fprintf(&b, "endpoint *%s* %s → %s", n.Target, n.From, n.To)
	case KindPool:
		fmt.Fprintf(&b, "pool *%s* %s", n.Pool, n.To)
		if c, ok := n.Counts.(PoolCounts); ok {
			fmt.Fprintf(&b, ": %d of %d endpoints serving (min_healthy %d)", c.Serving, c.Enabled, c.MinHealthy)
		}
	case KindService:
		if good {
			fmt.Fprintf(&b, "service *%s* recovered", n.Service)
		} else {
			fmt.Fprintf(&b, "service *%s*: every pool is down", n.Service)
		}
		if c, ok := n.Counts.(ServiceCounts); ok {
			fmt.Fprintf(&b, " (%d of %d pools available)", c.Available, c.Pools)
			if !good {
				fmt.Fprintf(&b, ", answering by on_all_down = %s", c.OnAllDown)
			}
		}
	}
	fmt.Fprintf(&b, " on %s", n.Node)
	if n.Cause != "" {
		b.WriteString(": " + n.Cause)
	}
	return b.String()
}
