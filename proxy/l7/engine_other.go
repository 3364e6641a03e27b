//go:build !linux

package l7

import (
	"errors"
	"net"
)

// loopSupported tells New whether Engine "loop" can run here.
const loopSupported = false

// loop exists only on Linux; elsewhere Serve never starts one.
type loop struct{}

func (s *Server) startLoops() error { return errors.New("event loops need Linux") }

func (s *Server) stopLoops() {}

func (s *Server) wakeLoops(force bool) {}

func (s *Server) handOff(*net.TCPConn) bool { return false }
