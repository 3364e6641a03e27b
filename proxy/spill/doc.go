// Package spill is a listener's cross-region spill: when none of the listener's own backends
// can take new work (down, drained, ejected or at their connection limit), a request (L7) or
// a connection (L4) goes to the first pool of its spill order that has an available backend,
// under a cap so that one region's outage cannot overload the next.
//
//	sp := spill.New(spill.Options{Listener: "eu-web", Tiers: tiers, MaxConns: 200, Rate: 500})
//	if u, _, why := sp.Pick(key, skip, perBackend); u != nil { … forward to u, then u.Release() }
//
// It does not decide health: the caller keeps the tiers' backends as it keeps its own (the
// same health view, the same IDs), and asks Pick only after its own backends had none.
package spill
