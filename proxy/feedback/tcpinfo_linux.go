package feedback

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// connRTT is the kernel's smoothed round-trip time of c (tcpi_rtt), 0 before any sample.
func connRTT(c *net.TCPConn) (time.Duration, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var (
		info *unix.TCPInfo
		serr error
	)
	if err := raw.Control(func(fd uintptr) {
		info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, serr
	}
	return time.Duration(info.Rtt) * time.Microsecond, nil
}
