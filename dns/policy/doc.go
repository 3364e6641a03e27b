// Package policy makes the steering decision for one query to a load-balanced name: which
// addresses of which pools a client gets. Decide is a pure function of the Service, the Client,
// the address family, a HealthView and an optional LatencySource, plus randomness for the
// weighted and random selections. It does no I/O, takes no locks and keeps no state; it does
// not parse config, locate clients or build DNS messages (see config, geo and dns).
//
// A decision is a pipeline, filter → order → walk → select:
//
// Filter. Only endpoints that are Enabled and of the requested family (4 for A, 6 for AAAA)
// exist for the query; a pool without one is skipped. When no pool in Service.Pools has one,
// the outcome is NoData ("this name has no AAAA records"), whatever the health; the Fallback
// is not consulted, because it stands in for pools that are down, not for a family the
// service does not have. An endpoint is serving unless the HealthView says health.Down:
// health.Unknown counts as up, so names without monitors, or not probed yet, keep answering.
// A nil HealthView means every endpoint is Unknown. An endpoint of a pool with MaxInFlight > 0
// whose proxies report (Request.Load) at least that many requests in flight is full and not
// serving either, though health never hears of it: a pool of full endpoints spills to the
// next tier as if it were down, and the answer is Degraded. A pool is eligible while its serving
// endpoints number at least min(MinHealthy, its enabled endpoints of the family); a
// MinHealthy below 1 counts as 1.
//
// Order turns the pools into tiers; the pools of one tier share load.
//   - Failover: each pool is a tier, in configured order.
//   - Geo: the most specific level at which any pool's region matches the located client
//     (subdivision, such as "US-CA", then country "DE", then continent "EU"; codes are
//     upper case and compared exactly) picks the first tier: every pool matching at that
//     level, in configured order. The other pools follow one per tier, nearest first by
//     great-circle distance from the first matched region; ties, regions without
//     coordinates (last), and a first region without coordinates keep configured order.
//     An unlocated client, or one that matches nothing, gets the configured order.
//   - Proximity: for a client with coordinates, each pool's distance is the great-circle
//     distance to its region scaled Route 53 style by the region's Bias (-99..99):
//     distance × (1 − Bias/100). Sorted ascending, a tier is its nearest pool and every
//     following pool within (1+Tolerance)× that distance; the next pool starts the next
//     tier. Regions without coordinates come last, one per tier. A client without
//     coordinates gets the configured order.
//   - Latency: the LatencySource's RTT per pool region, tiered like Proximity. Pools
//     whose region has no RTT follow, ordered and tiered by proximity. When there is no
//     LatencySource or it knows no RTT for any pool, the order is exactly Proximity's.
//
// Tolerance 0 means 0.05. Walk: the first tier with at least one eligible pool wins, and the
// serving endpoints of its eligible pools are the candidates.
//
// Select takes Service.Answers addresses (1..8; 0 counts as 1) from the candidates, or all
// of them when there are fewer:
//   - Weighted: weighted random sampling without replacement, in sampled order; with
//     Answers=1 each endpoint is answered in proportion to its Weight (0 counts as 1).
//   - Random: a uniform random sample without replacement.
//   - Hash: weighted rendezvous hashing of the client's subnet (IPv4 /24, IPv6 /56 of
//     Client.Addr) with each endpoint ID; the Answers highest scores, highest first. The
//     hash is FNV-1a 64 with a splitmix64 finaliser, stable across processes and
//     versions, so every node gives a subnet the same answer; removing an endpoint moves
//     only the subnets that had it.
//
// All down, when no tier has an eligible pool, follows Service.OnAllDown, ignoring health:
// FailOpen ("all") selects from every enabled endpoint of the family of the first pool in
// the ordered list; UseFallback ("fallback") from the Fallback pool's enabled endpoints of
// the family, failing open when there is no Fallback or it has none; FailNoData ("nodata")
// and FailServFail ("servfail") return those outcomes. Disabled endpoints are never
// answered, not even when failing open.
//
// Depends says what else the answer would change with, so the caller can scope an ECS reply:
// Geo, Proximity and Latency orders depend OnLocation, also for an unlocated client or one
// that matched nothing, because a located client would get another answer (the caller scopes
// the reply by the geo database's prefix for the address). Failover with Hash depends
// OnSubnet; Failover with Weighted or Random depends on Nothing. A Hash selection always sets
// SubnetBits (24 or 56 by the client address family); with a location order Depends stays
// OnLocation and the caller uses the narrower of the two prefixes. A NoData for a missing
// family depends on Nothing.
//
// Decision.Steps, filled only with Request.Explain, says in short lines what each stage
// did; without Explain a decision formats nothing.
package policy
