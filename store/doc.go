// Package store owns Meridian's data directory and its durable health state: the lock that
// keeps two processes from sharing one directory, and a bbolt file holding each prober's latest
// observation per target, each target's aggregate state, admin overrides and transition events.
//
// Over that file it keeps the read model the DNS path uses: an immutable View, published
// through an atomic pointer on every change, whose State(target) is the quorum of fresh
// per-prober reports with overrides applied. Readers never lock and never touch the disk.
// A prober's report that has not been renewed for Options.ReportExpiry (10 minutes) is deleted
// from both, so probers that went away, and targets no rule names, do not stay for ever.
//
//	s, err := store.Open(filepath.Join(dir, "state.db"), store.Options{Logger: log, Registerer: reg})
//	if err != nil { … }
//	defer s.Close()
//	s.SetRules(rules)                 // per target: monitor interval and quorum, from the config
//	_ = s.Record(ctx, observation)    // health.Sink: durable when it returns nil
//	up := s.View().State("eu/192.0.2.1") == health.Up
//
// Beside it, in memory only, Measurements holds what the proxies report (proxy/feedback):
// client RTTs per prefix and region and backends' in-flight loads, each for a few report
// intervals; the DNS path reads it without locks too.
//
// The package does not probe (see health) and does not choose endpoints (see dns/policy).
package store
