package l4

import (
	"net"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

// TestUnavailableBackendGetsNoConnections: new connections avoid a draining, unhealthy or
// ejected backend, while connections already on it keep working.
func TestUnavailableBackendGetsNoConnections(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		tests := []struct {
			name string
			take func(u *balance.Upstream)
		}{
			{"draining", func(u *balance.Upstream) { u.SetDraining(true) }},
			{"unhealthy", func(u *balance.Upstream) { u.SetHealthy(false) }},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				a, b := startBackend(t, named("a")), startBackend(t, named("b"))
				s, _ := startProxy(t, Options{Engine: engine, Backends: []*balance.Upstream{a.up, b.up}, Selector: first{}})
				held := dial(t, s.Addr())
				if got := whichBackend(t, held); got != "a" {
					t.Fatalf("first connection on %q, want a", got)
				}
				tc.take(a.up)
				for i := range 10 {
					if got := whichBackend(t, dial(t, s.Addr())); got != "b" {
						t.Fatalf("connection %d on %q, want b", i, got)
					}
				}
				if got := a.accepted.Load(); got != 1 {
					t.Errorf("a accepted %d connections, want 1", got)
				}
				roundTrip(t, held, "in-flight work continues")
			})
		}
	})
}

// TestDrainTimeoutClosesConnections: a connection on a backend that has been draining for
// longer than DrainTimeout is closed by the sweeper; one on another backend is not.
func TestDrainTimeoutClosesConnections(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a, b := startBackend(t, named("a")), startBackend(t, named("b"))
		const drain = 300 * time.Millisecond
		s, _ := startProxy(t, Options{Engine: engine, Backends: []*balance.Upstream{a.up, b.up}, DrainTimeout: drain})
		// round robin: a, then b; one after the other, or the two connects race for the pick
		onA := dial(t, s.Addr())
		gotA := whichBackend(t, onA)
		onB := dial(t, s.Addr())
		if gotB := whichBackend(t, onB); gotA != "a" || gotB != "b" {
			t.Fatalf("connections on %s and %s, want a and b", gotA, gotB)
		}
		a.up.SetDraining(true)
		roundTrip(t, onA, "allowed while draining")
		waitClosed(t, onA, 3*time.Second)
		if elapsed := time.Since(a.up.DrainingSince()); elapsed < drain || elapsed > drain+time.Second {
			t.Errorf("closed %v after draining began, want just over %v", elapsed, drain)
		}
		roundTrip(t, onB, "b is untouched")
	})
}

// TestShutdown: cancelling Serve stops accepting at once, lets open connections finish, and
// returns when they have; connections still open after DrainTimeout are closed.
func TestShutdown(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		t.Run("waits for connections", func(t *testing.T) {
			b := startBackend(t, echo)
			s, stop := startProxy(t, Options{Engine: engine, Backends: []*balance.Upstream{b.up}, DrainTimeout: 10 * time.Second})
			c := dial(t, s.Addr())
			roundTrip(t, c, "before")
			stopped := make(chan error, 1)
			go func() { stopped <- stop() }()
			eventually(t, 2*time.Second, "listener closed", func() bool {
				nc, err := net.DialTimeout("tcp", s.Addr().String(), time.Second)
				if err == nil {
					nc.Close()
				}
				return err != nil
			})
			roundTrip(t, c, "during shutdown")
			select {
			case err := <-stopped:
				t.Fatalf("Serve returned (%v) with a connection open", err)
			default:
			}
			c.Close()
			select {
			case err := <-stopped:
				if err != nil {
					t.Errorf("Serve = %v, want nil", err)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("Serve did not return after the last connection closed")
			}
		})
		t.Run("closes connections after drain timeout", func(t *testing.T) {
			b := startBackend(t, echo)
			obs := &observer{}
			const drain = 200 * time.Millisecond
			s, stop := startProxy(t, Options{Engine: engine, Backends: []*balance.Upstream{b.up}, DrainTimeout: drain, Feedback: obs})
			c := dial(t, s.Addr())
			roundTrip(t, c, "before")
			start := time.Now()
			if err := stop(); err != nil {
				t.Fatalf("Serve = %v", err)
			}
			if d := time.Since(start); d < drain || d > drain+2*time.Second {
				t.Errorf("Serve returned after %v, want about %v", d, drain)
			}
			waitClosed(t, c, time.Second)
			if got := obs.count(c); got != 1 {
				t.Errorf("ObserveConn calls = %d, want 1", got)
			}
		})
	})
}
