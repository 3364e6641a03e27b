// Package notify tells webhooks of health transitions: an endpoint going down or up (the
// store's committed events), a pool becoming unavailable or available again (its serving
// endpoints crossing min(min_healthy, enabled), or reaching 0), and a service with every pool
// down, answering by on_all_down, and its recovery. Each [[notify]] table of the config is
// one webhook, sent a JSON body (Notification) or a Slack-compatible {"text": …}, signed
// with HMAC-SHA256 when it has a secret (Sign, Verify).
//
// Nothing here is on the committer's or the query path. A Notifier follows the store as the
// dashboard's stream does: it wakes on View.Changed, reads the events committed since the
// last it read, and derives pool and service states from the View with the config's pools
// and services (dns/policy.Serves and Eligible, as the meridian_pool_* gauges count). Each
// webhook has its own bounded queue and sender: a full queue drops the notification
// (meridian_notify_dropped_total{notify}), a slow or dead receiver only delays its own
// queue, and every delivery is counted by result (meridian_notify_deliveries_total).
//
//	n, err := notify.New(cfg, st, notify.Options{Logger: log, Registerer: reg})
//	go n.Run(ctx)
//	p, err := n.Prepare(next) // on reload: reads the secrets; p.Commit() swaps them in
//
// It does not decide health (see store) and does not know the DNS answers (see dns).
package notify
