package node

import "runtime"

// holdProcs is the one place GOMAXPROCS is set. The DNS server's UDP readers and the proxies'
// event loops sleep in the kernel in raw system calls and keep their Go P meanwhile, so the
// process runs with GOMAXPROCS = base + held: base is what every goroutine shares
// (Options.Procs, or GOMAXPROCS as found), held counts those loops. The L7 engine reads held
// (proxy.Options.HeldProcs) to tell when it is alone on its P. restore puts GOMAXPROCS back.
func (n *Node) holdProcs() (restore func()) {
	base := runtime.GOMAXPROCS(0)
	if n.o.Procs > 0 {
		base = n.o.Procs
	}
	held := 0
	if n.dns != nil {
		held += n.dns.HeldProcs()
	}
	if n.proxies != nil {
		held += n.proxies.Loops()
	}
	n.held.Store(int64(held))
	prev := runtime.GOMAXPROCS(base + held)
	n.log.Debug("GOMAXPROCS set", "gomaxprocs", base+held, "base", base, "held_by_loops", held)
	return func() { runtime.GOMAXPROCS(prev) }
}
