package l7

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

// scriptedBackend is a loopback HTTP/1.1 server written by hand: for every request head read on a
// connection it calls answer, which writes the response.
func scriptedBackend(t testing.TB, id string, answer func(c *net.TCPConn)) *balance.Upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for {
					for { // one head
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					answer(nc.(*net.TCPConn))
				}
			}()
		}
	}()
	u := balance.NewUpstream(ln.Addr().String(), 1)
	u.ID = id
	return u
}

func smallReceiveBuffer(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10) })
	if err != nil {
		return err
	}
	return serr
}

// TestSlowClient: a backend sends a 32 MiB response to a client that stops reading. The proxy
// must not buffer it: the backend's writes stall while the client pauses, the proxy's heap does
// not grow by the response, and once the client reads again every byte arrives in order, on a
// connection that then serves another request.
func TestSlowClient(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		const total = 32 << 20
		data := make([]byte, total)
		for i := range data {
			data[i] = byte(i*31 + i>>11)
		}
		var written atomic.Int64
		u := scriptedBackend(t, "big", func(c *net.TCPConn) {
			c.SetWriteBuffer(64 << 10)
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", total)
			for off := 0; off < total; off += 64 << 10 {
				n, err := c.Write(data[off : off+64<<10])
				written.Add(int64(n))
				if err != nil {
					return
				}
			}
		})
		_, url := startProxy(t, Options{Engine: engine, Routes: []*Route{{Backends: []*balance.Upstream{u}, Selector: selector(t, "round_robin")}}})
		d := net.Dialer{Timeout: 2 * time.Second, Control: smallReceiveBuffer}
		nc, err := d.Dial("tcp", url[len("http://"):])
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(15 * time.Second))
		got := make([]byte, 0, total)
		chunk := make([]byte, 4<<10)
		var before runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		io.WriteString(nc, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReaderSize(nc, 4<<10)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		for len(got) < 64<<10 {
			n, err := resp.Body.Read(chunk)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			got = append(got, chunk[:n]...)
		}
		stalled := waitStable(t, &written, 200*time.Millisecond, 5*time.Second)
		var during runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&during)
		grew := int64(during.HeapAlloc) - int64(before.HeapAlloc)
		t.Logf("paused after %d bytes: backend wrote %d; heap grew %d", len(got), stalled, grew)
		if stalled >= total {
			t.Fatalf("backend wrote all %d bytes while the client was not reading: the proxy buffers", stalled)
		}
		if grew > 8<<20 {
			t.Errorf("heap grew by %d bytes while the client paused: the proxy buffers", grew)
		}
		rest, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(got), err)
		}
		got = append(got, rest...)
		if !bytes.Equal(got, data) {
			t.Fatalf("got %d bytes, not the %d sent in order", len(got), total)
		}
		io.WriteString(nc, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n") // the connection is still good
		resp, err = http.ReadResponse(br, nil)
		if err != nil || resp.ContentLength != total {
			t.Fatalf("second request: %v", err)
		}
	})
}

// waitStable waits until n has not changed for quiet, at most limit, and returns it.
func waitStable(t *testing.T, n *atomic.Int64, quiet, limit time.Duration) int64 {
	t.Helper()
	last, since := n.Load(), time.Now()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if v := n.Load(); v != last {
			last, since = v, time.Now()
		} else if time.Since(since) >= quiet {
			return v
		}
	}
	t.Fatalf("still moving after %v: %d", limit, last)
	return 0
}
