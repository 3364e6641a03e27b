// Package health holds what Meridian knows about an endpoint's health: its State, and (from
// issue 4 on) the monitors, the probe scheduler and rise/fall hysteresis. The DNS policies see
// health only through a consumer-side view that returns a State per endpoint.
package health
