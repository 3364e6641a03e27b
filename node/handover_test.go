package node

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSDNotify: the state reaches a service manager listening on NOTIFY_SOCKET, as systemd's
// Type=notify expects (READY=1 at start; MAINPID after a replace).
func TestSDNotify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	sdNotify("MAINPID=42\nREADY=1")
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 256)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); got != "MAINPID=42\nREADY=1" {
		t.Errorf("got %q", got)
	}
	t.Setenv("NOTIFY_SOCKET", "")
	sdNotify("READY=1") // no socket: nothing, no error
}

// TestHandoverFromEnv: without the variable a process is not a replacement; a malformed one is
// an error, not a guess.
func TestHandoverFromEnv(t *testing.T) {
	t.Setenv(handoverEnv, "")
	if h, err := HandoverFromEnv(); err == nil || h != nil {
		t.Errorf("an empty %s: %v, %v; want an error", handoverEnv, h, err)
	}
}

// TestHandedListenerKeepsServing: a listener handed to a child process as replace hands it
// stays non-blocking here, so this process's accept loop still parks in the poller and Close
// ends it at once. Handed as net's File gives it, the socket turns blocking (the mode is the
// socket's) and the accept loop is stuck in accept(2) until a connection comes.
func TestHandedListenerKeepsServing(t *testing.T) {
	for _, keep := range []bool{true, false} {
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		f, err := ln.File()
		if err != nil {
			t.Fatal(err)
		}
		if keep {
			if f, err = keepMode(f); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command("true")
		cmd.ExtraFiles = []*os.File{f}
		if err := cmd.Run(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		rc, _ := ln.SyscallConn()
		var flags int
		_ = rc.Control(func(fd uintptr) { flags, _ = unix.FcntlInt(fd, unix.F_GETFL, 0) })
		nonblock := flags&unix.O_NONBLOCK != 0
		if keep && !nonblock {
			t.Errorf("after handing the listener over it is blocking: this process's accept would hang")
		}
		if !keep && nonblock {
			t.Log("net's File no longer turns the socket blocking on exec: keepMode may be unneeded")
		}
		if !keep {
			ln.Close() // from here on a blocked accept could hang; the kept case is checked below
			continue
		}
		accepted := make(chan error, 1)
		go func() { _, err := ln.Accept(); accepted <- err }()
		time.Sleep(50 * time.Millisecond) // the accept is parked
		closed := make(chan struct{})
		go func() { ln.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(2 * time.Second):
			t.Fatal("Close of the handed-over listener waits for a connection")
		}
		if err := <-accepted; err == nil {
			t.Error("Accept after Close succeeded")
		}
	}
}
