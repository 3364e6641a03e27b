package node

import (
	"net"
	"path/filepath"
	"testing"
	"time"
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
