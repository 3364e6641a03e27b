package peer

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-gslb/meridian/health"
)

// Publisher defaults.
const (
	DefaultFlushInterval = 500 * time.Millisecond
	DefaultBatchSize     = 100   // observations that trigger a flush before the interval ends
	DefaultQueueLen      = 10000 // observations held per node while it cannot be reached
)

// Publisher is the health.Sink of a remote prober: it sends observations to every node.
// Record only queues; Run flushes each node's queue every FlushInterval, or as soon as
// BatchSize observations wait, to all nodes concurrently. A node that cannot be reached keeps
// its queue and is retried at the next flush; when its queue is full the oldest observation is
// dropped (and counted: Dropped).
type Publisher struct {
	// Set before Run; zero means the default.
	FlushInterval time.Duration
	BatchSize     int
	QueueLen      int
	Region        string // sent with every batch: where this prober runs

	prober string
	secret []byte
	c      *http.Client
	log    *slog.Logger
	nodes  []*nodeQueue
	now    func() time.Time
}

// nodeQueue is one node's pending observations.
type nodeQueue struct {
	url     string // the observations endpoint
	kick    chan struct{}
	mu      sync.Mutex
	q       []health.Observation
	dropped atomic.Uint64
	failing bool // owned by the node's flush loop
}

// NewPublisher returns a publisher for the prober named prober, sending to nodes (base URLs
// such as "http://10.0.0.1:8080") with c.
func NewPublisher(prober string, nodes []string, secret []byte, c *http.Client, log *slog.Logger) *Publisher {
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Second}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{prober: prober, secret: secret, c: c, log: log.With("component", "peer"), now: time.Now}
	for _, n := range nodes {
		p.nodes = append(p.nodes, &nodeQueue{url: strings.TrimRight(n, "/") + ObservationsPath, kick: make(chan struct{}, 1)})
	}
	return p
}

var _ health.Sink = (*Publisher)(nil)

// Record queues o for every node. It never waits for the network.
func (p *Publisher) Record(_ context.Context, o health.Observation) error {
	o.Prober = p.prober
	limit, batch := p.queueLen(), p.batchSize()
	for _, n := range p.nodes {
		n.mu.Lock()
		if len(n.q) >= limit {
			drop := len(n.q) - limit + 1
			n.q = append(n.q[:0], n.q[drop:]...)
			n.dropped.Add(uint64(drop))
		}
		n.q = append(n.q, o)
		full := len(n.q) >= batch
		n.mu.Unlock()
		if full {
			select {
			case n.kick <- struct{}{}:
			default:
			}
		}
	}
	return nil
}

// Dropped is the number of observations dropped for node (a base URL as given to
// NewPublisher) because its queue was full.
func (p *Publisher) Dropped(node string) uint64 {
	u := strings.TrimRight(node, "/") + ObservationsPath
	for _, n := range p.nodes {
		if n.url == u {
			return n.dropped.Load()
		}
	}
	return 0
}

// Run flushes until ctx ends, then tries one last flush to every node and returns nil.
func (p *Publisher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, n := range p.nodes {
		wg.Go(func() { p.loop(ctx, n) })
	}
	wg.Wait()
	return nil
}

func (p *Publisher) loop(ctx context.Context, n *nodeQueue) {
	t := time.NewTicker(p.flushInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			p.flush(fctx, n)
			cancel()
			return
		case <-t.C:
		case <-n.kick:
		}
		p.flush(ctx, n)
	}
}

// flush sends n's queue in batches until it is empty or a send fails; what failed goes back
// to the front of the queue.
func (p *Publisher) flush(ctx context.Context, n *nodeQueue) {
	for {
		n.mu.Lock()
		k := min(len(n.q), p.maxSend())
		batch := make([]health.Observation, k)
		copy(batch, n.q)
		n.q = append(n.q[:0], n.q[k:]...)
		n.mu.Unlock()
		if k == 0 {
			return
		}
		err := p.send(ctx, n.url, batch)
		if err == nil {
			if n.failing {
				n.failing = false
				p.log.Info("sending observations works again", "node", n.url)
			}
			continue
		}
		var perm permanentError
		if errors.As(err, &perm) { // the node refuses the batch itself: resending cannot help
			n.dropped.Add(uint64(len(batch)))
			p.log.Error("node rejected observations; dropped them", "node", n.url, "n", len(batch), "err", err)
			continue
		}
		if !n.failing {
			n.failing = true
			p.log.Warn("sending observations failed; retrying at the next flush", "node", n.url, "err", err)
		}
		n.mu.Lock()
		q := append(batch, n.q...)
		if over := len(q) - p.queueLen(); over > 0 {
			q = q[over:]
			n.dropped.Add(uint64(over))
		}
		n.q = q
		n.mu.Unlock()
		return
	}
}

func (p *Publisher) send(ctx context.Context, url string, obs []health.Observation) error {
	b := Batch{Prober: p.prober, Region: p.Region, Observations: make([]ObservationJSON, len(obs))}
	for i, o := range obs {
		b.Observations[i] = toWire(o)
	}
	body, err := json.Marshal(b)
	if err != nil {
		return err
	}
	err = postSigned(ctx, p.c, url, p.secret, p.now(), body)
	if se := (*statusError)(nil); errors.As(err, &se) && se.code == http.StatusBadRequest {
		return permanentError{err}
	}
	return err
}

// permanentError: the node answered that the batch is malformed.
type permanentError struct{ error }

func (p *Publisher) flushInterval() time.Duration {
	if p.FlushInterval > 0 {
		return p.FlushInterval
	}
	return DefaultFlushInterval
}

func (p *Publisher) batchSize() int {
	if p.BatchSize > 0 {
		return p.BatchSize
	}
	return DefaultBatchSize
}

func (p *Publisher) queueLen() int {
	if p.QueueLen > 0 {
		return p.QueueLen
	}
	return DefaultQueueLen
}

// maxSend bounds one request's observations.
func (p *Publisher) maxSend() int { return max(p.batchSize()*10, 1000) }
