// Package dnstap logs queries and replies as dnstap messages (AUTH_QUERY, AUTH_RESPONSE) in
// Frame Streams to a Unix socket, a TCP collector or a file.
//
// The query path never waits for it: a Tap holds a ring of entries, a query takes a free one
// (Get), fills it with copies of its bytes and hands it over (Send), with no lock, channel or
// allocation; one goroutine encodes and writes them in batches and frees them. When none is
// free the message is dropped and counted (meridian_dnstap_dropped_total). The messages are
// encoded with protowire straight into the writer's buffer, byte for byte what golang-dnstap's
// generated types marshal to; the Frame Streams control frames and handshake are
// golang-framestream's (output.go). It does not parse DNS or know policies: the caller says
// what went into the answer in Entry.Extra, or through an Entry.Detail the writer formats.
package dnstap
