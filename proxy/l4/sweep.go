package l4

import (
	"context"
	"time"
)

// maxSweep is the longest interval between sweeps.
const maxSweep = 250 * time.Millisecond

// sweepEvery is the sweep interval: 250 ms, or a quarter of a shorter timeout, so that
// closing happens within about a quarter of the timeout after it is due.
func (s *Server) sweepEvery() time.Duration {
	d := min(maxSweep, s.o.IdleTimeout/4, s.o.DrainTimeout/4)
	return max(d, 5*time.Millisecond)
}

// sweep runs until ctx ends, checking the open connections at each tick.
func (s *Server) sweep(ctx context.Context) {
	t := time.NewTicker(s.sweepEvery())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.sweepOnce(now)
		}
	}
}

// sweepOnce closes connections idle for IdleTimeout or on a backend draining for longer than
// DrainTimeout, and flushes the byte counts of the others to the metrics.
func (s *Server) sweepOnce(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		total := c.in.Load() + c.out.Load()
		if total != c.lastTotal {
			c.lastTotal, c.lastActive = total, now
			c.flush()
		}
		if now.Sub(c.lastActive) >= s.o.IdleTimeout {
			s.log.Debug("idle connection closed", "backend", c.up.ID, "client", c.peer.String())
			c.abort()
			continue
		}
		if since := c.up.DrainingSince(); !since.IsZero() && now.Sub(since) > s.o.DrainTimeout {
			s.log.Debug("connection to drained backend closed", "backend", c.up.ID)
			c.abort()
		}
	}
}
