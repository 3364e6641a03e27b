//go:build !linux

package l4

import "errors"

// epollSupported tells New whether Engine "epoll" can run here.
const epollSupported = false

// defaultEngine is the Engine "" stands for.
const defaultEngine = "go"

// loop and relay exist only on Linux; elsewhere no connection ever has a loop.
type (
	loop  struct{}
	relay struct{}
)

func (l *loop) kill(*conn) {}

func (s *Server) startLoops() error { return errors.New("event loops need Linux") }

func (s *Server) stopLoops() {}

func (s *Server) handOff(*conn) bool { panic("l4: no event loops on this system") }
