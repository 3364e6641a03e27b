// Package web is Meridian's HTTP side: /metrics for Prometheus, and /healthz and /readyz for
// Meridian itself. The dashboard and JSON API will live here too; DNS answers never do.
package web
