// Package peer carries health observations between Meridian processes over authenticated
// HTTP: a Publisher sends a remote prober's observations to every node, a Receiver's
// Observations handler receives and records them, and its Plan handler with FetchPlan gives a
// remote prober the node's probe targets, so it needs no config file. Its Feedback handler
// and FeedbackPusher carry remote proxies' reports (proxy/feedback: client RTTs and backend
// loads) to the nodes the same way. Handler, PlanHandler and FeedbackHandler are the same
// handlers, each with a receiver of its own.
//
// Every request is signed with a shared secret: X-Meridian-Timestamp is the unix time in
// seconds, X-Meridian-Nonce 16 random bytes in hex (new for every request) and
// X-Meridian-Signature is hex(HMAC-SHA256(secret, timestamp + "\n" + nonce + "\n" + body)). A
// node accepts a timestamp within ±60 s of its own clock and each nonce once: a Receiver
// remembers the nonces it accepted until their timestamps leave that window. It records only
// observations (and proxies' backend loads) of targets it monitors, when told which they are.
package peer
