// Package dnstap logs queries and replies as dnstap messages (AUTH_QUERY, AUTH_RESPONSE) in
// Frame Streams to a Unix socket, a TCP collector or a file, through the dnstap protobuf types
// and Frame Streams writer of github.com/dnstap/golang-dnstap.
//
// The query path never waits for it: a Tap holds a fixed number of entries, a query takes a
// free one (Get), fills it with copies of its bytes and hands it over (Send); one goroutine
// encodes and writes them and gives them back. When none is free the message is dropped and
// counted (meridian_dnstap_dropped_total). It does not parse DNS or know policies: the caller
// says what went into the answer in Entry.Extra.
package dnstap
