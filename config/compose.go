package config

import "slices"

// The configs a cluster node serves are made from three parts: the shared revision pushed to
// the cluster (zones, pools, services, ...), the node's own file ([server] and [cluster]), and
// the endpoints registered at run time. These make the copy; the parts stay as they were.

// WithLocal is c (a pushed revision) with local's [server], [cluster] and [[notify]]: what one
// node of the cluster serves of it. Each node notifies of the transitions it decides.
func (c *Config) WithLocal(local *Config) *Config {
	out := *c
	out.Server, out.Cluster, out.Notify = local.Server, local.Cluster, local.Notify
	return &out
}

// WithSerial is c with serial in every SOA whose serial the file did not set, so that every
// node of a cluster answers the same serial for the same revision.
func (c *Config) WithSerial(serial uint32) *Config {
	out := *c
	out.Zones = slices.Clone(c.Zones)
	for i := range out.Zones {
		if out.Zones[i].SOA.SerialDefault {
			out.Zones[i].SOA.Serial = serial
		}
	}
	return &out
}

// WithDynamic is c with each pool's registered endpoints (by pool name) after its configured
// ones, marked Dynamic. An address the file already lists for the pool keeps its configured
// form; a pool the config does not have is left out (see MissingPools).
func (c *Config) WithDynamic(byPool map[string][]Endpoint) *Config {
	if len(byPool) == 0 {
		return c
	}
	out := *c
	out.Pools = slices.Clone(c.Pools)
	for i, p := range out.Pools {
		dyn := byPool[p.Name]
		if len(dyn) == 0 {
			continue
		}
		eps := slices.Clone(p.Endpoints)
		for _, e := range dyn {
			if slices.ContainsFunc(eps, func(x Endpoint) bool { return x.Addr == e.Addr }) {
				continue
			}
			e.Dynamic, e.Enabled = true, true
			eps = append(eps, e)
		}
		out.Pools[i].Endpoints = eps
	}
	return &out
}
