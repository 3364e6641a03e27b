//go:build linux

package epoll

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestWakeAck: a Wake makes Wait return the eventfd's event; after Ack the set is quiet again,
// and a second Wake before the Ack writes nothing more.
func TestWakeAck(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	events := make([]unix.EpollEvent, 4)
	if n, err := s.Wait(events, 0); n != 0 || err != nil {
		t.Fatalf("Wait on a new set = %d, %v; want 0, nil", n, err)
	}
	s.Wake()
	s.Wake() // pending: no second write
	n, err := s.Wait(events, 1000)
	if n != 1 || err != nil || !s.IsWake(events[0].Fd) || events[0].Pad != WakePad {
		t.Fatalf("Wait after Wake = %d, %v, %+v; want the eventfd's event", n, err, events[0])
	}
	s.Ack()
	if n, _ := s.Wait(events, 0); n != 0 {
		t.Fatalf("Wait after Ack = %d events, want 0 (the eventfd drained)", n)
	}
	s.Wake() // after an Ack, a Wake writes again
	if n, _ := s.Wait(events, 1000); n != 1 {
		t.Fatalf("Wait after a second Wake = %d events, want 1", n)
	}
}
