package config

import (
	"net/url"
	"strings"
	"time"
)

// Cluster is the [cluster] table: the distributed engine the nodes share their operational
// state through (overrides, dynamic endpoints, the config revision, node heartbeats). nil
// without the table: one node with bbolt alone.
type Cluster struct {
	Backend   string   // "etcd"
	Endpoints []string // the etcd members' client URLs, e.g. "http://127.0.0.1:2379"
	// Prefix is the key prefix every node of one deployment shares. Default "/meridian/".
	Prefix string
	// CertFile and KeyFile are a TLS client certificate, CAFile the members' CA ("" each: none).
	CertFile, KeyFile, CAFile string
	// DialTimeout bounds one request to etcd (a write the API waits for). Default 2s.
	DialTimeout time.Duration
	// LeaseTTL is how long a node's heartbeat outlives it. Default 10s.
	LeaseTTL time.Duration
	Line     int
}

func decodeCluster(o *obj, file string) *Cluster {
	if o == nil {
		return nil
	}
	defer o.Done()
	c := &Cluster{Line: o.pos.line}
	c.Backend, _ = o.Word("backend", "etcd", "etcd")
	eps, vals, ev := o.Strings("endpoints")
	if ev == nil || len(eps) == 0 {
		o.problem(ev, "endpoints", "at least one etcd client URL is needed (e.g. endpoints = [\"http://127.0.0.1:2379\"])")
	}
	for i, e := range eps {
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			o.problem(vals[i], "endpoints", "%q is not an etcd client URL such as \"http://10.0.0.1:2379\"", e)
			continue
		}
		c.Endpoints = append(c.Endpoints, e)
	}
	p, pv := o.String("prefix", "/meridian/")
	if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || len(p) < 2 {
		o.problem(pv, "prefix", "%q: want a key prefix that starts and ends with / (e.g. \"/meridian/\")", p)
	}
	c.Prefix = p
	c.CertFile = secretFile(o, "cert", file)
	c.KeyFile = secretFile(o, "key", file)
	c.CAFile = secretFile(o, "ca", file)
	if (c.CertFile == "") != (c.KeyFile == "") {
		o.problem(nil, "cert", "cert and key go together: give both or neither")
	}
	c.DialTimeout, _ = o.Duration("dial_timeout", 2*time.Second, 100*time.Millisecond, time.Minute)
	c.LeaseTTL, _ = o.Duration("lease_ttl", 10*time.Second, 2*time.Second, 10*time.Minute)
	return c
}
