// Package web is Meridian's HTTP side: /metrics for Prometheus, and /healthz and /readyz for
// Meridian itself, and the JSON API under /api/v1 (endpoints' evidence, overrides, events). The
// dashboard will live here too; DNS answers never do.
package web
