//go:build linux

// Package epoll is what the L4 and L7 proxies' event loops share: an epoll set with an
// eventfd that wakes its one waiter, and a wait that sleeps in the kernel.
//
// Wait is epoll_pwait as a raw system call: the thread sleeps in the kernel and the network
// stack wakes it directly, without a trip through Go's netpoller; a raw call keeps its P
// meanwhile, so whoever runs a waiter gives the process one more GOMAXPROCS for it (as the
// DNS server does for its UDP readers). The runtime's preemption signal ends the sleep with
// EINTR (signal(7): epoll_pwait is never restarted); the waiter then calls PreemptionPoint so
// the garbage collector can stop it.
package epoll

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// WakePad is the Pad of the eventfd's events, for loops that tell events apart by Pad.
const WakePad = -1

// Set is an epoll set with an eventfd in it. One goroutine waits (Wait, Ack); any goroutine
// may Wake it.
type Set struct {
	FD     int // the epoll descriptor, for epoll_ctl
	wakeFD int

	mu      sync.Mutex
	pending bool // the eventfd was written and not yet read
	one     [8]byte
	sink    [8]byte
}

// New makes the epoll set and its eventfd.
func New() (*Set, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	wfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wfd), Pad: WakePad}
	if err := unix.EpollCtl(fd, unix.EPOLL_CTL_ADD, wfd, &ev); err != nil {
		unix.Close(wfd)
		unix.Close(fd)
		return nil, fmt.Errorf("epoll_ctl eventfd: %w", err)
	}
	s := &Set{FD: fd, wakeFD: wfd}
	binary.NativeEndian.PutUint64(s.one[:], 1) // an eventfd adds native-endian uint64s
	return s, nil
}

// IsWake reports whether an event's descriptor is the eventfd.
func (s *Set) IsWake(fd int32) bool { return int(fd) == s.wakeFD }

// Wake makes the waiter's Wait return, unless a wake-up is already pending. Queue the work
// first, then Wake.
func (s *Set) Wake() {
	s.mu.Lock()
	pending := s.pending
	s.pending = true
	s.mu.Unlock()
	if !pending {
		unix.Write(s.wakeFD, s.one[:]) // EAGAIN only when the counter is full: still awake
	}
}

// Ack takes a wake-up; the waiter calls it when it sees the eventfd's event, before it takes
// its queues, so that work queued after a Wake is never missed.
func (s *Set) Ack() {
	unix.Read(s.wakeFD, s.sink[:])
	s.mu.Lock()
	s.pending = false
	s.mu.Unlock()
}

// Wait is epoll_pwait for at most ms milliseconds, as a raw system call (see the package
// documentation); the error is the errno, EINTR included.
func (s *Set) Wait(events []unix.EpollEvent, ms int) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(s.FD), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), uintptr(ms), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// Close closes the eventfd and the epoll set.
func (s *Set) Close() {
	unix.Close(s.wakeFD)
	unix.Close(s.FD)
}

// PreemptionPoint lets the runtime stop the calling goroutine if it asked to: the call's
// prologue checks the stack guard, where a pending preemption is noticed (runtime.Gosched
// alone would requeue the goroutine and let the same thread take it straight back into the
// wait while the garbage collector waits to scan its stack).
//
//go:noinline
func PreemptionPoint() { runtime.Gosched() }
