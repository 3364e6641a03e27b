// Package netmap precomputes, for one classification of locations, the widest prefix around
// every address over which the class stays the same. DNS uses it to scope an EDNS Client
// Subnet reply (RFC 7871) by the region over which the answer holds, not by the geo
// database network, which is far narrower: a continent map over GeoLite2-City merges the
// /24s of 8.8.8.0 and its neighbours into one short prefix, as gdnsd does.
//
// Build walks every network of a geo database once, in parts over every core, classifies
// each network's location, joins neighbouring address ranges of the same class (the parts
// joined in address order), and stores the result as a binary
// trie over the IPv6 address space in which every subtree whose addresses all share one
// class is a single leaf; a leaf's depth is then the scope. IPv4 lives at ::/96, where the
// MaxMind format keeps it, and Lookup reports IPv4 scopes in IPv4 bits. Address space the
// walk does not cover gets the class of the zero geo.Location, as geo.DB.Locate gives it.
//
// The MaxMind format answers IPv4-mapped (::ffff:0:0/96) addresses, and in IPv6 databases
// also 6to4 (2002::/16) and Teredo (2001::/32) ones, from the IPv4 networks; the walk leaves
// these aliases out. Lookup follows them as the database does: always for IPv4-mapped
// addresses, and for 6to4 and Teredo when the walk reported no network inside them. If such
// a range is in fact empty (an IPv4-only database), Lookup gives it the IPv4 classes, while
// the database would not locate it; the scopes stay correct, because every address there
// would have the same, unlocated, class.
//
// A Map is only as exact as the walk. The walk's location must hold over the whole network
// it reports; where geo.Network.Scope says otherwise (a Location.Prefix narrower than the
// network, when a layered database is finer than the first), Lookup reports bits -1 for
// the rest of the network, and callers fall back to the geo database's own prefix. A Map
// is immutable and safe for concurrent use.
package netmap
