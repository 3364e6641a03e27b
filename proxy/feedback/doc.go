// Package feedback is what the local proxy tells the GSLB: the clients' TCP round-trip times,
// read from the kernel (TCP_INFO) when a client connection closes and aggregated per client
// prefix (/24 for IPv4, /48 for IPv6), and the in-flight load of each backend.
//
// A [Recorder] is the listeners' ConnObserver; its [Recorder.Snapshot] is a [measure.Report] (health/measure). A
// [Reporter] sends one every few seconds to a [measure.Sink]: in `meridian serve` the node's
// measurement table (store.Measurements), in a remote `meridian proxy` a signed HTTP push to
// the nodes (health/peer.FeedbackPusher).
//
//	var set *proxy.Set
//	rec := feedback.NewRecorder(feedback.Options{Proxy: "fra-1", Region: "eu", Logger: log,
//		Loads: func() []measure.BackendLoad { return measure.Loads(set.InFlight()) }})
//	set, err := proxy.New(cfg, proxy.Options{Feedback: rec, …})
//	g.Go(func() error { return feedback.NewReporter(rec, sink, feedback.ReporterOptions{}).Run(ctx) })
//
// The package neither steers (see dns/policy) nor stores (see store): it measures and sends.
package feedback
