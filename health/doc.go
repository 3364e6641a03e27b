// Package health holds what Meridian knows about an endpoint's health: its State, the
// monitors and their probers (http, https, tcp, dns), rise/fall hysteresis and the Scheduler
// that probes every target on time and records an Observation after each probe through a
// Sink. The DNS policies see health only through a consumer-side view that returns a State
// per endpoint; health never imports the store.
package health
