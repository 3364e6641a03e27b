// Command echo is the floor of the DNS benchmark: a UDP server that does nothing but send each
// datagram back, with the same system calls and threading as Meridian's UDP path (per address,
// N blocking sockets sharing the port with SO_REUSEPORT, each read by one thread in
// recvmmsg(MSG_WAITFORONE) and answered with one sendmmsg per batch). The reply is the query
// with the QR bit set, so dnsperf counts it as an answer. The calls are raw, as Meridian's are: each
// reader keeps its P while it sleeps in the kernel (GOMAXPROCS is sockets + 1). Whatever Meridian or gdnsd spend per
// query beyond this is their own work.
//
//	go run ./test/bench/echo -addr 127.0.0.1:5399 -sockets 2
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	batch = 64
	size  = 4096
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5399", "address to serve on")
	sockets := flag.Int("sockets", runtime.NumCPU(), "UDP sockets (one thread each)")
	flag.Parse()
	ap, err := netip.ParseAddrPort(*addr)
	if err != nil || !ap.Addr().Is4() {
		fmt.Fprintln(os.Stderr, "echo: -addr must be an IPv4 ip:port")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*sockets + 1)
	for range *sockets {
		fd, err := listen(ap)
		if err != nil {
			fmt.Fprintln(os.Stderr, "echo:", err)
			os.Exit(1)
		}
		go serve(fd)
	}
	slog.Info("echo serving", "addr", ap, "sockets", *sockets)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}

func listen(a netip.AddrPort) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return -1, err
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		return -1, err
	}
	return fd, unix.Bind(fd, &unix.SockaddrInet4{Port: int(a.Port()), Addr: a.Addr().As4()})
}

func serve(fd int) {
	runtime.LockOSThread()
	var (
		recv  [batch]unix.Mmsghdr
		send  [batch]unix.Mmsghdr
		iov   [batch]unix.Iovec
		siov  [batch]unix.Iovec
		names [batch]unix.RawSockaddrInet6
		bufs  [batch][size]byte
	)
	for i := range recv {
		iov[i].Base = &bufs[i][0]
		iov[i].SetLen(size)
		recv[i].Hdr.Name = (*byte)(unsafe.Pointer(&names[i]))
		recv[i].Hdr.Iov = &iov[i]
		recv[i].Hdr.SetIovlen(1)
	}
	for {
		for i := range recv {
			recv[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		}
		n, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&recv[0])), batch, unix.MSG_WAITFORONE, 0, 0)
		if e != 0 {
			continue
		}
		for i := range int(n) {
			b := bufs[i][:recv[i].Len]
			if len(b) > 2 {
				b[2] |= 0x80 // QR
			}
			siov[i].Base = &bufs[i][0]
			siov[i].SetLen(len(b))
			send[i].Hdr.Name = recv[i].Hdr.Name
			send[i].Hdr.Namelen = recv[i].Hdr.Namelen
			send[i].Hdr.Iov = &siov[i]
			send[i].Hdr.SetIovlen(1)
		}
		for sent := 0; sent < int(n); {
			m, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&send[sent])), uintptr(int(n)-sent), 0, 0, 0)
			if e != 0 {
				if e == unix.EINTR {
					continue
				}
				break
			}
			sent += int(m)
		}
	}
}
