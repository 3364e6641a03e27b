// Package balance picks the backend the local proxy sends a request or connection to.
//
// An [Upstream] is one backend with atomic counters (in-flight, healthy, draining); a
// [Selector] is a tiny policy with one method, Select(pool, key), that looks only at
// [Upstream.Available] and [Upstream.InFlight] and returns nil when nothing is available.
// Health checking and draining live elsewhere and write through SetHealthy/SetDraining.
// key is whatever the caller extracts for stickiness (client IP, a header, a cookie or a
// path value); policies that are not keyed ignore it.
//
// Policies, by the name [New] accepts:
//
//   - round_robin ([RoundRobin]): an atomic counter over the available upstreams, so each
//     gets an equal share whatever its weight.
//   - weighted_round_robin ([WeightedRoundRobin]): nginx's smooth weighted round robin. On
//     every pick each available upstream's current weight grows by its weight, the largest
//     wins and loses the total. Weights 5,1,1 give a,a,b,a,c,a,a. Unavailable upstreams sit
//     out without disturbing the others' state.
//   - least_conn ([LeastConn]): the fewest in-flight requests; ties are broken at random so
//     an idle pool is not filled front to back.
//   - ip_hash ([IPHash]): FNV-1a of key modulo the number of available upstreams. Sticky
//     only while membership is stable: any upstream joining, leaving or changing
//     availability remaps most keys. Use consistent_hash when that matters.
//   - consistent_hash ([ConsistentHash]): weighted rendezvous (HRW) hashing; each upstream
//     scores -weight/ln(h) for a hash h in (0,1) of key and address, and the highest score
//     wins. Losing an upstream moves only that upstream's keys. Loads are bounded as in
//     "Consistent Hashing with Bounded Loads" (Mirrokni, Thorup, Zadimoghaddam): an upstream
//     is skipped when taking one more request would put it above ceil([LoadFactor] × the
//     average in-flight, counting the new request), and the next-highest score is tried, so
//     one hot key spills onto its runners-up instead of overloading its owner.
//   - random ([Random]): uniform over the available upstreams.
//   - p2c ([P2C]): power of two choices; two distinct available upstreams at random, the one
//     with fewer in-flight requests wins.
//
// Every Selector is safe for concurrent use and Select does not allocate.
package balance
