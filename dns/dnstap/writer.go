package dnstap

import "time"

// flushSize is how many bytes of frames the writer gathers before it writes them (at 100k
// queries a second, about one write every 2.5 ms); flushEvery bounds how long they wait. Larger
// is not cheaper: the kernel's copy into the page cache costs two to three times as much per
// byte from a buffer that no longer fits the core's caches (measured: 0.3 ns/B at 64 KiB,
// 0.6-1 at 256 KiB).
const flushSize = 64 << 10

// The writer's rest between rounds while entries keep coming: it starts at maxPause and
// halves while a round finds the ring a quarter full, down to minPause (each wake-up costs the
// scheduler some 20 µs of CPU here, so 250 a second is cheap and 1000 is not). At 100k queries
// a second a round of maxPause takes 400 entries, a twelfth of the default buffer: a writer
// kept off the CPU for 40 ms more still drops nothing.
const (
	minPause = 500 * time.Microsecond
	maxPause = 4 * time.Millisecond
)

// keepCap is the largest message buffer an entry keeps for its next use.
const keepCap = 4096

// run is the Tap's one consumer. It takes the sent entries in ring order, encodes them into its
// buffer and frees them, writes the buffer when it is large or old, keeps a socket connected,
// and on stop writes what is queued and closes. While entries keep coming it rests between
// rounds (minPause to maxPause), so a busy writer wakes about 250 times a second whatever
// the query rate; when a round finds none it sleeps until a Send wakes it (Tap.idle).
func (t *Tap) run() {
	defer close(t.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var tail uint64 // the next position to take
	pause := maxPause
	lastFlush := time.Now()
	var retryAt time.Time
	down := false
	for {
		if t.w == nil && t.out.File == "" && !time.Now().Before(retryAt) {
			if err := t.connect(); err != nil {
				if !down {
					t.log.Warn("dnstap output unreachable; messages wait in the buffer, and are dropped once it is full", "err", err)
				}
				down, retryAt = true, time.Now().Add(retryEvery)
			} else {
				t.log.Info("dnstap output connected")
				down = false
			}
		}
		var n int
		if t.w != nil {
			tail, n = t.take(tail)
		}
		if t.pending > 0 && time.Since(lastFlush) >= flushEvery {
			t.flush()
		}
		if t.pending == 0 {
			lastFlush = time.Now()
		}
		var d time.Duration
		switch size := len(t.ring); {
		case n > 0 && n >= size/2: // falling behind: no rest
			pause = minPause
			if t.ctx.Err() != nil {
				t.drain(tail)
				return
			}
			continue
		case n > 0: // busy: let the ring fill a little
			if n >= size/4 {
				pause = max(pause/2, minPause)
			} else if n < size/16 {
				pause = min(pause*2, maxPause)
			}
			d = pause
		case t.w == nil && t.out.File == "": // not connected: the entries wait in the ring
			d = time.Until(retryAt)
		case t.w == nil: // a failed file: nothing more is written
			d = -1
		default: // idle: until a Send, or until the buffered frames are due
			d = -1
			if t.pending > 0 {
				d = time.Until(lastFlush.Add(flushEvery))
			}
			t.idle.Store(true)
			if t.ready(tail) { // sent after the round: Send may not have seen idle
				t.idle.Store(false)
				continue
			}
		}
		stopped := t.wait(timer, d)
		if t.idle.Load() { // a store only when needed: every query reads this cache line
			t.idle.Store(false)
		}
		if stopped {
			t.drain(tail)
			return
		}
	}
}

// wait sleeps for d (d < 0: no limit) or until a Send wakes an idle writer; it reports whether
// the Tap was closed meanwhile.
func (t *Tap) wait(timer *time.Timer, d time.Duration) bool {
	var tc <-chan time.Time
	if d >= 0 {
		timer.Reset(d)
		defer timer.Stop()
		tc = timer.C
	}
	select {
	case <-tc:
	case <-t.wake:
	case <-t.ctx.Done():
		return true
	}
	return false
}

func (t *Tap) connect() error {
	network, addr := "unix", t.out.Socket
	if t.out.Socket == "" {
		network, addr = "tcp", t.out.TCP.String()
	}
	w, err := dialSocket(t.ctx, network, addr)
	if err != nil {
		return err
	}
	t.w = w
	return nil
}

// ready reports whether the entry at pos has been sent.
func (t *Tap) ready(pos uint64) bool {
	return t.ring[pos%uint64(len(t.ring))].seq.Load() == 2*pos+1
}

// take encodes the sent entries from pos on, in order, up to the first one not yet sent, and
// frees them; it returns the next position and how many it took.
func (t *Tap) take(pos uint64) (uint64, int) {
	size := uint64(len(t.ring))
	m := t.meta.Load()
	wantQ, wantR := t.Want()
	n := 0
	for t.w != nil {
		e := &t.ring[pos%size]
		if e.seq.Load() != 2*pos+1 {
			break
		}
		t.write(e, m, wantQ, wantR)
		if cap(e.Query) > keepCap { // an unusually large message: do not keep its buffer
			e.Query = nil
		}
		if cap(e.Response) > keepCap {
			e.Response = nil
		}
		e.seq.Store(2 * (pos + size)) // free for Get's next time round
		pos++
		n++
	}
	t.countSent()
	return pos, n
}

// countSent counts the messages encoded since the last call as sent: handed to the output,
// whose write may still fail (then they count as dropped too).
func (t *Tap) countSent() {
	if t.unsent > 0 {
		t.metrics.sent.Add(float64(t.unsent))
		t.unsent = 0
	}
}

// write appends e's messages to the buffer, and writes the buffer once it is large.
func (t *Tap) write(e *Entry, m *meta, wantQ, wantR bool) {
	extra := e.Extra
	if e.Detail != nil {
		t.extra = e.Detail.AppendExtra(append(t.extra[:0], e.Extra...))
		extra = t.extra
	}
	if wantQ && len(e.Query) > 0 {
		t.buf = appendFrame(t.buf, e, true, m, extra)
		t.pending++
		t.unsent++
	}
	if wantR && len(e.Response) > 0 {
		t.buf = appendFrame(t.buf, e, false, m, extra)
		t.pending++
		t.unsent++
	}
	if len(t.buf) >= flushSize {
		t.flush()
	}
}

// flush writes the buffered frames.
func (t *Tap) flush() {
	if t.pending == 0 {
		return
	}
	t.countSent()
	err := t.w.Write(t.buf)
	if err != nil {
		t.metrics.dropped.Add(float64(t.pending))
		t.fail(err)
	}
	if cap(t.buf) > 4*flushSize { // grown for a huge message: start small again
		t.buf = make([]byte, 0, flushSize+keepCap)
	}
	t.buf, t.pending = t.buf[:0], 0
}

// fail gives up the output after an error: a socket is dialled again; a file stays closed
// (what follows the failed write could not be read anyway) until a restart or a reload opens
// it anew.
func (t *Tap) fail(err error) {
	if t.out.File != "" {
		t.log.Error("dnstap file write failed; query logging is off until the node restarts or a reload changes [server.dnstap]", "err", err)
	} else {
		t.log.Warn("dnstap output write failed; reconnecting", "err", err)
	}
	_ = t.w.Close()
	t.w = nil
}

// drainWait is how long Close waits for entries taken by Get and not yet sent: queries being
// answered as the output closes.
const drainWait = 100 * time.Millisecond

// drain writes the entries queued at stop and closes the output; with no output they are
// counted as dropped.
func (t *Tap) drain(pos uint64) {
	deadline := time.Now().Add(drainWait)
	for {
		if t.w != nil {
			pos, _ = t.take(pos)
		}
		if t.w == nil {
			size := uint64(len(t.ring))
			for ; t.ready(pos); pos++ {
				e := &t.ring[pos%size]
				t.metrics.dropped.Add(float64(messages(e)))
				e.seq.Store(2 * (pos + size))
			}
		}
		if pos >= t.head.Load() || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if t.w != nil {
		t.flush()
	}
	if t.w != nil {
		if err := t.w.Close(); err != nil {
			t.log.Warn("dnstap output did not close cleanly", "err", err)
		}
		t.w = nil
	}
}
