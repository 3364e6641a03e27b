package health

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"time"
)

// tcpProber connects, optionally sends Monitor.Send, and reads until the reply contains
// Monitor.Expect. It closes with a reset (SO_LINGER 0), as load balancers' checks do, so
// thousands of probes a second leave no TIME_WAIT sockets holding ephemeral ports.
type tcpProber struct{ d net.Dialer }

// NewTCP returns the prober for the kind "tcp".
func NewTCP() Prober { return &tcpProber{} }

func (p *tcpProber) Probe(ctx context.Context, t Target) Result {
	start := time.Now()
	timeout := timeoutOf(t.Monitor)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return result(ctx, start, timeout, p.probe(ctx, t))
}

func (p *tcpProber) probe(ctx context.Context, t Target) error {
	c, err := p.d.DialContext(ctx, "tcp", t.Addr.String())
	if err != nil {
		return err
	}
	defer func() {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
	}()
	m := t.Monitor
	if m.Send == "" && m.Expect == "" {
		return nil
	}
	defer abortOnCancel(ctx, c)()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if m.Send != "" {
		if _, err := io.WriteString(c, m.Send); err != nil {
			return err
		}
	}
	if m.Expect == "" {
		return nil
	}
	want := []byte(m.Expect)
	buf := make([]byte, 0, 512)
	for len(buf) < maxReply {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if bytes.Contains(buf, want) {
			return nil
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && ctx.Err() != context.Canceled {
				return failf("timeout after %v: reply does not contain %q", timeoutOf(m), m.Expect)
			}
			if errors.Is(err, io.EOF) {
				return failf("reply does not contain %q", m.Expect)
			}
			return err
		}
	}
	return failf("reply does not contain %q in its first %d bytes", m.Expect, maxReply)
}
