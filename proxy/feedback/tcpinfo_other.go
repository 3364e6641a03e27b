//go:build !linux

package feedback

import (
	"errors"
	"net"
	"time"
)

// connRTT needs TCP_INFO, which only Linux is read here.
func connRTT(*net.TCPConn) (time.Duration, error) {
	return 0, errors.New("tcp_info is read on linux only")
}
