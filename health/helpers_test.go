package health

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// addrPort parses a listener's address.
func addrPort(t *testing.T, a net.Addr) netip.AddrPort {
	t.Helper()
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return ap
}

// closedPort is a loopback TCP port with nothing listening on it.
func closedPort(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := addrPort(t, ln.Addr())
	ln.Close()
	return ap
}

// serveTCP listens on 127.0.0.1:0 and runs handle for every connection, then closes it.
// The listener is ready when serveTCP returns (the kernel queues connections from Listen on).
func serveTCP(t *testing.T, handle func(net.Conn)) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				handle(c)
			}()
		}
	}()
	return addrPort(t, ln.Addr())
}

// funcProber is a Prober made of a function.
type funcProber func(ctx context.Context, t Target) Result

func (f funcProber) Probe(ctx context.Context, t Target) Result { return f(ctx, t) }

// recSink keeps every observation.
type recSink struct {
	mu  sync.Mutex
	obs []Observation
}

func (s *recSink) Record(_ context.Context, o Observation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.obs = append(s.obs, o)
	return nil
}

// of returns the observations of one target so far.
func (s *recSink) of(id string) []Observation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Observation
	for _, o := range s.obs {
		if o.Target == id {
			out = append(out, o)
		}
	}
	return out
}

func (s *recSink) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.obs)
}

// checkResult compares a probe's outcome with the wanted one: wantErr "" means OK.
func checkResult(t *testing.T, r Result, wantErr string) {
	t.Helper()
	if r.Err != wantErr || r.OK != (wantErr == "") {
		t.Errorf("result = {OK:%v Err:%q}, want {OK:%v Err:%q}", r.OK, r.Err, wantErr == "", wantErr)
	}
	if r.At.IsZero() || r.RTT <= 0 {
		t.Errorf("result At = %v, RTT = %v, want both set", r.At, r.RTT)
	}
}
