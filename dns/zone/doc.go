// Package zone holds the immutable, validated view of every zone Meridian serves.
//
// It answers "what does this name hold?": a Set finds the zone for a query name, and
// Zone.Lookup walks RFC 1034 §4.3.2 (delegations, exact matches, CNAMEs, RFC 4592 wildcards,
// empty non-terminals) and returns the sections plus a Kind. It does not pick endpoints for
// load-balanced names and knows nothing of the wire, EDNS or the client.
package zone
