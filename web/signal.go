package web

import "sync"

// signal wakes every waiter at once: Wait returns a channel that the next Fire closes. Take
// the channel before reading the state it guards, so a change in between is not missed.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }

// Wait is closed by the next Fire.
func (s *signal) Wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

// Fire wakes the waiters.
func (s *signal) Fire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.ch)
	s.ch = make(chan struct{})
}
