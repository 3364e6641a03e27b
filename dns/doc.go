// Package dns is Meridian's authoritative name server: UDP and TCP listeners, and the Handler
// that turns one raw query into one raw reply.
//
// The Handler reads an immutable snapshot (zones, node identity, EDNS limits and a cache of
// prepared replies) through an atomic pointer; Reload builds a new snapshot and swaps it in, so
// the query path never takes a lock held by a writer for long and never blocks on I/O.
//
// Every query first tries the fast path: the header and question are parsed by hand and a reply
// prepared earlier for the same (name, type, class, EDNS form) is copied and patched (ID, RD/CD,
// the question's letter case). Everything else — EDNS options, errors, first sight of a name —
// takes the slow path through github.com/miekg/dns, whose client-independent replies fill the
// cache. Both paths produce the same bytes by construction: the slow path packs the reply for the
// lower-cased name and then writes the client's own question bytes over it, exactly the patch the
// fast path applies.
//
// Zones with a [transfer] table are also copied by secondaries: AXFR and IXFR over TCP are taken
// off a connection before the query path (xfr.go), the copy and its serial are settled at each
// reload (transfer.go), and NOTIFYs go out once a new serial serves (notify.go); TSIG is in
// tsig.go.
package dns
