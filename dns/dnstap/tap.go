package dnstap

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/meridian-gslb/meridian/config"
)

// Entry is one query and its reply on the way to the output: a slot of the Tap's ring. Between
// Get and Send the caller owns it and appends into its slices, which keep their capacity from
// earlier use.
type Entry struct {
	Query, Response []byte // wire form; empty: that message is not logged
	QueryTime       time.Time
	ResponseTime    time.Time
	Client          netip.AddrPort
	TCP             bool
	// Extra is put in the dnstap Extra field of both messages: why the reply is what it is.
	Extra []byte
	// Detail, when not nil, writes Extra instead, in the writer goroutine: the query path only
	// copies what it knows. It is the caller's, kept across uses like the slices (Get does not
	// clear it), so the caller sets it up for every query it logs.
	Detail Detail

	pos uint64        // the ring position Get reserved this slot at
	seq atomic.Uint64 // 2*pos: free for Get at pos; 2*pos+1: sent (see Tap)
}

// Detail is what a caller knows about a query, turned into the Extra text by the writer.
type Detail interface {
	// AppendExtra appends the text to b; nothing when there is none for this query.
	AppendExtra(b []byte) []byte
}

// Options configure a Tap.
type Options struct {
	Metrics *Metrics // required
	Logger  *slog.Logger
	// Version is sent when the config names none.
	Version string
}

// Tap is one open dnstap output and its buffer. Its methods are safe for concurrent use.
//
// The buffer is a ring of entries (a bounded queue after Dmitry Vyukov's, with one consumer):
// Get reserves the slot at head with one compare-and-swap, Send publishes it with one atomic
// store, and the writer goroutine takes the slots in order, encodes them and frees them. No
// lock and no channel on the query path; the writer is woken through wake only when it sleeps
// for want of work. A slot's seq says whose it is: 2*pos when Get may take it for position
// pos, 2*pos+1 once sent; the writer frees it for the next time round as 2*(pos+len(ring)).
type Tap struct {
	out     config.Dnstap // the output and buffer it was opened with
	ring    []Entry
	ctx     context.Context // cancelled by Close: a dial in progress gives up
	stop    context.CancelFunc
	done    chan struct{}
	wake    chan struct{} // one token: a Send saw the writer idle
	metrics *Metrics
	log     *slog.Logger
	version string

	threshold atomic.Uint64 // a query is logged when its hash is below this (sampled)
	want      atomic.Uint32 // wantQueries | wantResponses
	meta      atomic.Pointer[meta]
	idle      atomic.Bool // the writer waits on wake

	_    [64]byte      // head is written by every Get: keep it off the lines above
	head atomic.Uint64 // the next position Get reserves

	// The writer goroutine's alone.
	_       [56]byte
	w       output // nil while a socket is not connected
	buf     []byte // data frames not yet written to w
	pending int    // messages in buf
	unsent  int    // messages encoded and not yet counted as sent
	extra   []byte // a Detail's text
}

const (
	wantQueries = 1 << iota
	wantResponses
)

// meta is what every message says about who sent it.
type meta struct{ identity, version []byte }

// flushEvery bounds how long a message waits in the output's buffers; retryEvery is how often
// a socket that is not connected is dialled.
const (
	flushEvery = time.Second
	retryEvery = time.Second
)

// Open starts writing to c's output. A file is created (or truncated) now, and an error here is
// the caller's to report; a socket is connected in the background and re-dialled while it is
// unreachable, its messages waiting in the buffer meanwhile.
func Open(c config.Dnstap, o Options) (*Tap, error) {
	t := newTap(c, o)
	if c.File != "" {
		w, err := openFile(c.File)
		if err != nil {
			t.stop()
			return nil, err
		}
		t.w = w
	}
	go t.run()
	return t, nil
}

// newTap is Open without the output and the writer goroutine.
func newTap(c config.Dnstap, o Options) *Tap {
	t := &Tap{
		out: c, done: make(chan struct{}), wake: make(chan struct{}, 1),
		metrics: o.Metrics, log: o.Logger, version: o.Version,
		ring: make([]Entry, max(1, c.Buffer/perQuery(c))),
		buf:  make([]byte, 0, flushSize+keepCap),
	}
	t.ctx, t.stop = context.WithCancel(context.Background())
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	t.log = t.log.With("component", "dnstap", "output", Describe(c))
	for i := range t.ring {
		t.ring[i].seq.Store(2 * uint64(i))
	}
	t.Update(c)
	return t
}

// perQuery is how many messages one query gives.
func perQuery(c config.Dnstap) int {
	if c.Queries && c.Responses {
		return 2
	}
	return 1
}

// Describe names c's output for logs: "file /var/log/q.dnstap", "unix /run/dnstap.sock",
// "tcp 127.0.0.1:6000".
func Describe(c config.Dnstap) string {
	switch {
	case c.File != "":
		return "file " + c.File
	case c.Socket != "":
		return "unix " + c.Socket
	}
	return "tcp " + c.TCP.String()
}

// SameOutput reports whether c writes where t does, with the same buffer: Update then takes
// the rest of c without reopening (a file would be truncated).
func (t *Tap) SameOutput(c config.Dnstap) bool {
	return c.File == t.out.File && c.Socket == t.out.Socket && c.TCP == t.out.TCP && c.Buffer == t.out.Buffer &&
		perQuery(c) == perQuery(t.out)
}

// Update takes c's sampling, message kinds, identity and version from the next query on.
func (t *Tap) Update(c config.Dnstap) {
	th := uint64(math.Ceil(c.Sample * (1 << 32)))
	if c.Sample >= 1 {
		th = 1 << 32 // every 32-bit hash is below it
	}
	t.threshold.Store(th)
	var w uint32
	if c.Queries {
		w |= wantQueries
	}
	if c.Responses {
		w |= wantResponses
	}
	t.want.Store(w)
	v := c.Version
	if v == "" {
		v = t.version
	}
	t.meta.Store(&meta{identity: []byte(c.Identity), version: []byte(v)})
}

// Sampled reports whether the query with this DNS ID from this client port is logged: a hash
// of the two against the sample fraction, so both messages of one query go together.
func (t *Tap) Sampled(id, port uint16) bool {
	th := t.threshold.Load()
	if th >= 1<<32 {
		return true
	}
	x := (uint32(id)<<16 | uint32(port)) * 0x9E3779B1 // Fibonacci hashing spreads sequential IDs
	x ^= x >> 15
	x *= 0x85EBCA77
	x ^= x >> 13
	return uint64(x) < th
}

// Want says which messages of a sampled query are logged.
func (t *Tap) Want() (queries, responses bool) {
	w := t.want.Load()
	return w&wantQueries != 0, w&wantResponses != 0
}

// Get returns a free entry, emptied, or nil when the buffer is full: then the query's messages
// are dropped and counted. An entry from Get must be given to Send.
func (t *Tap) Get() *Entry {
	n := uint64(len(t.ring))
	for {
		pos := t.head.Load()
		e := &t.ring[pos%n]
		switch seq := e.seq.Load(); {
		case seq == 2*pos:
			if t.head.CompareAndSwap(pos, pos+1) {
				e.pos = pos
				e.Query, e.Response, e.Extra = e.Query[:0], e.Response[:0], e.Extra[:0]
				return e
			}
		case seq < 2*pos: // still the writer's from the last time round: full
			q, r := t.Want()
			t.metrics.dropped.Add(float64(b2i(q) + b2i(r)))
			return nil
		}
		// Another Get took pos first: try the next.
	}
}

// Send hands an entry from Get to the writer. It never blocks.
func (t *Tap) Send(e *Entry) {
	e.seq.Store(2*e.pos + 1)
	if t.idle.Load() && t.idle.CompareAndSwap(true, false) {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// Close stops the output: the queued messages are written (a socket that is not connected
// drops them), then the Frame Streams stop frame, and the file or socket is closed. Entries
// sent after Close are not written; Get fails once the buffer is full.
func (t *Tap) Close() {
	t.stop()
	<-t.done
}

func (t *Tap) String() string { return fmt.Sprintf("dnstap %s", Describe(t.out)) }

func messages(e *Entry) int { return b2i(len(e.Query) > 0) + b2i(len(e.Response) > 0) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
