// Package l4 is Meridian's TCP (layer 4) proxy listener: it accepts client connections,
// picks a backend with a balance.Selector, optionally sends a PROXY protocol header, and
// copies bytes both ways until both sides are done, honouring half-close.
//
// Accepting, picking, dialling (with retries), the PROXY header and the limits are Go code on
// Go's netpoller. Once both ends are connected, one of two engines moves the bytes:
//
//   - "epoll" (Linux, the default there), in the style of HAProxy: the two sockets leave Go's
//     netpoller (their descriptors are duplicated and the Go conns closed) for one of the
//     listener's event loops, each a goroutine locked to its OS thread around a
//     level-triggered epoll set. A readable socket is read once into the loop's buffer and
//     the bytes are written to the other socket at once: two syscalls per direction per
//     message, and no goroutine wake-ups. When the other socket does not take everything, the
//     rest waits in a pooled 16 KiB buffer, the reading side is paused, and the loop waits
//     for EPOLLOUT, so a slow reader slows the writer through TCP and nothing piles up.
//     Options.Loops loops (one core's worth each) share the connections round robin. The
//     loops own the descriptors: the sweeper and shutdown ask a loop to close a connection,
//     and the feedback observer is called from the loop.
//   - "go" (elsewhere, or by choice): a goroutine per direction. Small round trips are copied
//     with read/write through a pooled buffer; a direction that keeps filling the buffer
//     switches to splice(2) (zero-copy, via (*net.TCPConn).ReadFrom) until it goes quiet.
//
// A per-listener sweeper closes idle connections and connections to backends that have been
// draining longer than DrainTimeout, and flushes byte counts to the metrics.
//
// The package does not probe backends; it reads their Available() state, which the proxy
// wiring sets from the health monitors, and does passive outlier ejection on connect errors.
package l4
