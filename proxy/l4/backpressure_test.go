package l4

import (
	"crypto/sha256"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

// TestSlowReader: a backend writes a stream to a client that stops reading. The proxy must
// not buffer the stream: the backend's writes block while the client pauses (the epoll engine
// holds at most one buffer of the direction, after a partial write), and once the client
// reads again every byte arrives in order. The stream is longer than the kernel's autotuned
// socket buffers between backend and client can ever hold (tcp_rmem's and tcp_wmem's maximum,
// 32 + 4 MiB here, plus a margin): 32 MiB usually stalled after ~13 MiB, but a CI run once saw
// the proxy's receive buffer from the backend grow to take all of it.
func TestSlowReader(t *testing.T) {
	total := max(32<<20, sysctlMax(t, "net/ipv4/tcp_rmem")+sysctlMax(t, "net/ipv4/tcp_wmem")+16<<20)
	forEngines(t, func(t *testing.T, engine string) {
		data := make([]byte, total)
		for i := range data {
			data[i] = byte(i*31 + i>>11)
		}
		var written atomic.Int64
		b := startBackend(t, func(c *net.TCPConn) {
			c.SetWriteBuffer(64 << 10)
			for off := 0; off < total; off += 64 << 10 {
				n, err := c.Write(data[off : off+64<<10])
				written.Add(int64(n))
				if err != nil {
					return
				}
			}
		})
		s, _ := startProxy(t, Options{Engine: engine, Backends: []*balance.Upstream{b.up}})
		d := net.Dialer{Timeout: 2 * time.Second, Control: smallReceiveBuffer}
		nc, err := d.Dial("tcp", s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		c := nc.(*net.TCPConn)
		c.SetDeadline(time.Now().Add(10 * time.Second))

		got := make([]byte, 0, total)
		chunk := make([]byte, 4<<10)
		for len(got) < 64<<10 {
			n, err := c.Read(chunk)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			got = append(got, chunk[:n]...)
		}
		// The client pauses: the backend must stall well short of the end.
		stalled := waitStable(t, &written, 200*time.Millisecond, 5*time.Second)
		t.Logf("paused after reading %d bytes: backend wrote %d, proxy holds %d", len(got), stalled, s.held.Load())
		if stalled >= int64(total) {
			t.Fatalf("backend wrote all %d bytes while the client was not reading: the proxy buffers", stalled)
		}
		if engine == "epoll" {
			if h := s.held.Load(); h > copyBuf {
				t.Errorf("proxy holds %d bytes, want at most one buffer (%d)", h, copyBuf)
			}
			if s.stalls.Load() == 0 {
				t.Errorf("no partial write: the EPOLLOUT path was not taken")
			}
		}
		chunk = make([]byte, 64<<10)
		for {
			n, err := c.Read(chunk)
			got = append(got, chunk[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("read after %d bytes: %v", len(got), err)
			}
		}
		if len(got) != total || sha256.Sum256(got) != sha256.Sum256(data) {
			i := 0
			for i < min(len(got), total) && got[i] == data[i] {
				i++
			}
			t.Fatalf("got %d bytes, want %d identical (first difference at %d)", len(got), total, i)
		}
		eventually(t, 2*time.Second, "stall buffers returned", func() bool { return s.held.Load() == 0 })
	})
}

// smallReceiveBuffer sets a 32 KiB receive buffer before connecting, so that the window is
// small from the start and a paused reader stops the sender soon.
// sysctlMax is the last (maximum) field of a tcp_rmem-style sysctl, in bytes (0 if unreadable).
func sysctlMax(t *testing.T, name string) int {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[len(f)-1])
	return n
}

func smallReceiveBuffer(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 32<<10)
	})
	if err != nil {
		return err
	}
	return serr
}

// waitStable polls n until it has not changed for quiet, and returns it; the test fails if n
// still moves after limit.
func waitStable(t *testing.T, n *atomic.Int64, quiet, limit time.Duration) int64 {
	t.Helper()
	end := time.Now().Add(limit)
	last, since := n.Load(), time.Now()
	for time.Now().Before(end) {
		time.Sleep(10 * time.Millisecond)
		if cur := n.Load(); cur != last {
			last, since = cur, time.Now()
		} else if time.Since(since) >= quiet {
			return cur
		}
	}
	t.Fatalf("still moving after %v (at %d)", limit, last)
	return 0
}

// TestBackendEndsWhileClientPauses: the backend sends its whole reply and closes while the
// client is not reading, so the proxy holds a stalled direction on a socket that is shut both
// ways (EPOLLHUP); the client must still get every byte, then the end of the stream. That
// needs a reply larger than the buffers towards the client and small enough for the backend
// to finish into the kernel's buffers, which autotuning sizes: the test tries growing replies
// until one stalls the proxy with the backend done (a first version lost data there).
func TestBackendEndsWhileClientPauses(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		var reply []byte
		finished := make(chan struct{}, 1)
		b := startBackend(t, func(c *net.TCPConn) {
			if got, err := io.ReadAll(c); err == nil && string(got) == "request" {
				c.Write(reply)
			}
			finished <- struct{}{}
		})
		s, _ := startProxy(t, Options{Engine: engine, Backends: []*balance.Upstream{b.up}})
		exercised, most := false, 10
		if engine == "go" { // no stall counter: byte-exactness is all there is to check
			most = 4
		}
		for mib := 2; mib <= most && !exercised; mib++ {
			reply = make([]byte, mib<<20)
			for i := range reply {
				reply[i] = byte(i*13 + i>>9 + mib)
			}
			stalls := s.stalls.Load()
			d := net.Dialer{Timeout: 2 * time.Second, Control: smallReceiveBuffer}
			nc, err := d.Dial("tcp", s.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			c := nc.(*net.TCPConn)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "request")
			c.CloseWrite()
			done := false
			select {
			case <-finished:
				done = true
			case <-time.After(300 * time.Millisecond): // too big to fit: it ends as we read
			}
			got, err := io.ReadAll(c)
			c.Close()
			if err != nil {
				t.Fatalf("%d MiB: read after %d bytes: %v", mib, len(got), err)
			}
			if sha256.Sum256(got) != sha256.Sum256(reply) {
				t.Fatalf("%d MiB: got %d bytes, want %d identical", mib, len(got), len(reply))
			}
			if !done {
				<-finished
			}
			exercised = done && s.stalls.Load() > stalls
			t.Logf("%d MiB: backend done while paused %v, proxy stalled %v", mib, done, s.stalls.Load() > stalls)
		}
		if engine == "epoll" && !exercised {
			t.Errorf("no reply size stalled the proxy after the backend closed")
		}
	})
}
