// Package rrl implements response rate limiting (RRL) for an authoritative DNS server: it
// decides, for each response about to be sent over UDP, whether to send it, drop it, or "slip"
// it (send it truncated, TC=1 with empty sections, so a real client retries over TCP).
//
// # Model
//
// A response is charged to one bucket, named by its token: the client network (the source
// address masked to Options.IPv4Prefix, default /24, or Options.IPv6Prefix, default /56; an
// IPv4-mapped IPv6 address counts as IPv4, an IPv6 zone is ignored), the Kind, and
//
//   - for Answer (positive answer or NODATA): the query name and the query type;
//   - for NXDomain: the zone only, so a flood of random names under one zone shares one
//     bucket;
//   - for Error (REFUSED, SERVFAIL, FORMERR, ...): nothing more, one bucket per network.
//
// Names are opaque byte strings, hashed as given except that ASCII letters are folded to lower
// case (so DNS 0x20 case randomisation cannot multiply buckets). The documented form is the
// uncompressed wire form (length-prefixed labels ending in the zero root label), which the
// server already holds for the question; for NXDomain pass the zone's origin in the same form.
// A wildcard-synthesised answer should be charged to the wildcard owner name (for example
// "\x01*\x07example\x03com\x00"), a referral to the delegation point, so that random names do
// not each get a fresh bucket. Names longer than 255 bytes (not valid DNS) are hashed on their
// first 255 bytes.
//
// Each bucket is an account in credits, as in BIND: a new bucket starts with
// ResponsesPerSecond credits; it earns ResponsesPerSecond credits per second, pro rata and
// capped at ResponsesPerSecond; every prospective response debits one credit, whether it is
// sent or not, and the debt is capped near ResponsesPerSecond × Window. A response is sent
// when the account, after earning, holds at least one whole credit; otherwise it is limited.
// The floor is 1 − ResponsesPerSecond × Window credits, one credit shallower than BIND's
// −ResponsesPerSecond × Window, so that Window of quiet is exactly enough to earn that whole
// credit back. Consequences:
//
//   - a client may get ResponsesPerSecond identical responses at once, and then that many per
//     second;
//   - a client that keeps exceeding the rate stays limited (its refills are eaten by its own
//     queries), however long the flood lasts;
//   - once a flood stops, the client is answered again after at most Window of quiet: debt is
//     bounded, so the victim of a spoofed flood recovers.
//
// Of a bucket's limited responses every Slip-th is Slip and the others Drop (Slip 1: all slip;
// Slip 0: all drop). Error responses cannot usefully be truncated: for Kind Error, Slip means
// send the (already small) error response unchanged, which is BIND's "leak at the slip rate".
//
// TCP is never limited, and a response to a client with a valid DNS server cookie should not be
// limited either; in both cases the caller simply does not call Decide.
//
// # Table
//
// Buckets live in a table sharded by the token hash (64 shards when TableSize allows), each a
// mutex, a map from a 64-bit hash (hash/maphash with a seed chosen per Limiter, so tokens that
// collide cannot be predicted from outside) to a slot, and a least-recently-used list. The
// table never holds more than Options.TableSize buckets: each shard holds at most
// TableSize/shards, and inserting into a full shard reuses its least recently used bucket. A
// bucket idle for Window plus one second is indistinguishable from a new one, so evicting it
// loses nothing; evicting a busier bucket forgets its debt, so size the table for the number
// of (network, token) pairs that are limited at once. Two tokens whose 64-bit hashes collide
// share a bucket; with a random seed that is improbable (about TableSize/2^64 per new token).
// Decide does not allocate once a bucket exists.
//
// # Against BIND's rate-limit
//
// Same: credit/debt accounting (credit capped at responses-per-second, debt at about window
// times it, limited responses debited too), window default 15s and range 1s to 1h, slip range
// 0 to 10 with every n-th limited response truncated, error responses leaked instead of
// truncated, NXDOMAIN charged to the zone, errors charged per client network, prefix lengths
// 24 and 56, exempt-clients (Exempt), log-only (LogOnly: decide and count, always send), UDP
// only.
//
// Different: credit accrues continuously rather than in whole seconds, a response needs a
// whole credit, and the debt floor is one credit shallower (recovery takes exactly Window);
// one rate for every kind (BIND has responses-, nodata-, nxdomains-, referrals-, errors- and
// all-per-second, the others defaulting to responses-per-second); NODATA shares the Answer
// token; no qps-scale; no logging (the caller logs, from Stats or the returned Action); a
// fixed-bound LRU table (TableSize) instead of BIND's table growing between min- and
// max-table-size; the zero value of Slip means "never slip", so the configuration layer must
// supply the recommended DefaultSlip (2, BIND's default) itself.
//
// # Against Knot's mod-rrl
//
// Knot before 3.4 classified responses (positive, NXDOMAIN keyed by the zone, error, empty,
// wildcard keyed by the wildcard name, and others) into token buckets over the client
// netblock and refilled each bucket's tokens every second, with no debt and so no window; its
// table-size fixed a hash table, whitelist exempted networks, and slip defaulted to 1. Knot
// 3.4 and later limit per client address and several enclosing prefixes (with instant-limit,
// exponential decay and dry-run) rather than per response token. We follow the per-token
// classification (three kinds; the caller picks the wildcard or delegation name), keep BIND's
// debt window, recommend slip 2, evict least recently used buckets, and map whitelist to
// Exempt and dry-run to LogOnly. Like Knot, responses to clients with a valid cookie are not
// limited (by the caller not calling Decide).
package rrl
