// Package measure is the wire protocol between the local proxies and the GSLB: a proxy's
// [Report] of its clients' round-trip times per prefix and its backends' in-flight loads, and
// the [Sink] that takes it. proxy/feedback produces reports; health/peer carries them between
// processes; store.Measurements keeps them for dns/policy. It holds types only, so each side
// imports it and none imports the other.
package measure
