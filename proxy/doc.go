// Package proxy wires the local L4/L7 proxy from the config: it builds one listener per
// [proxy.NAME] table (proxy/l4 for mode "tcp", proxy/l7 for "http"), the backends as
// balance.Upstreams, and keeps them across reloads by ID, so in-flight counts and passive
// ejections survive a config change.
//
// A backend taken from a pool has the pool's endpoint ID ("pool/address", the ID the store,
// the API and `meridian drain` use); an explicit backend is "proxy/NAME/host:port". The
// package does not probe: the caller feeds it health with [Set.ApplyHealth], from the store
// in `meridian serve` or from a node or its own monitors in `meridian proxy`.
//
//	set, err := proxy.New(cfg, proxy.Options{Logger: log, Registerer: reg})
//	if err := set.Listen(); err != nil { … }
//	set.ApplyHealth(state)   // whenever health changes
//	err = set.Run(ctx)       // until ctx ends and in-flight work has drained
//
// A listener with spill (config [proxy.NAME] spill or spill_service) also holds the backends of
// the pools it spills to, as Upstreams of their own with the pools' endpoint IDs, so health
// reaches them the same way; proxy/spill picks among them when none of its own can take work.
//
// It does not balance or forward bytes itself: see proxy/balance, proxy/l4 and proxy/l7.
package proxy
