// Package peer carries health observations between Meridian processes over authenticated
// HTTP: a Publisher sends a remote prober's observations to every node, Handler receives and
// records them, and PlanHandler/FetchPlan give a remote prober the node's probe targets, so
// it needs no config file. FeedbackHandler and FeedbackPusher carry remote proxies' reports
// (proxy/feedback: client RTTs and backend loads) to the nodes the same way.
//
// Every request is signed with a shared secret: X-Meridian-Timestamp is the unix time in
// seconds and X-Meridian-Signature is hex(HMAC-SHA256(secret, timestamp + "\n" + body)). A
// node accepts a timestamp within ±60 s of its own clock.
package peer
