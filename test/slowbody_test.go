package test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestSlowBodiesAgainstTheNode: the real node with its default limits (10 s read timeout, 64
// connections per client). 300 clients on ten loopback addresses each declare a 100 kB body
// and send it a byte a second, half without a token. The tokenless ones are refused on their
// head; the others are cut off at the read timeout; all the while a normal API request is
// answered in under 50 ms.
func TestSlowBodiesAgainstTheNode(t *testing.T) {
	const readTimeout = 10 * time.Second // web.DefaultLimits
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := freePorts(t)
	path := writeConfig(t, dir, "zoneloss.toml.tmpl", zoneLossVars{ports: p, Zones: true})
	startNode(t, dir, p, "serve", "-c", path)
	addr := fmt.Sprintf("127.0.0.1:%d", p.HTTP)

	var (
		wg                 sync.WaitGroup
		mu                 sync.Mutex
		closed             int
		slowest, tokenless time.Duration
	)
	for i := range 300 {
		src := net.IPv4(127, 0, 0, byte(2+i%10))
		c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 2 * time.Second}).Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		auth := ""
		if i%2 == 1 {
			auth = "Authorization: Bearer s3cret\r\n"
		}
		wg.Go(func() {
			defer c.Close()
			sent := time.Now()
			fmt.Fprintf(c, "POST /api/v1/endpoints/web/127.0.0.1/override HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", auth)
			buf := make([]byte, 4096)
			for range 20 { // a byte a second, 20 s at the most
				if _, err := c.Write([]byte{' '}); err != nil {
					break
				}
				_ = c.SetReadDeadline(time.Now().Add(time.Second))
				if _, err := c.Read(buf); err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						continue
					}
					break
				}
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, _ = io.Copy(io.Discard, c) // the reply, up to the close
				break
			}
			took := time.Since(sent)
			mu.Lock()
			defer mu.Unlock()
			closed++
			slowest = max(slowest, took)
			if auth == "" {
				tokenless = max(tokenless, took)
			}
		})
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	client := &http.Client{Timeout: 2 * time.Second}
	var worst time.Duration
	n := 0
	for waiting := true; waiting; {
		select {
		case <-allDone:
			waiting = false
		case <-time.After(100 * time.Millisecond):
		}
		start := time.Now()
		resp, err := client.Get("http://" + addr + "/api/v1/endpoints")
		if err != nil {
			t.Fatalf("a normal request during the slow bodies: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("a normal request during the slow bodies: %s", resp.Status)
		}
		worst, n = max(worst, time.Since(start)), n+1
	}
	t.Logf("300 slow bodies: tokenless refused within %v, the last closed %v after its head (read timeout %v); %d normal requests, slowest %v",
		tokenless.Round(time.Millisecond), slowest.Round(time.Millisecond), readTimeout, n, worst)
	if closed != 300 {
		t.Fatalf("%d of 300 slow-body connections closed", closed)
	}
	if slowest > readTimeout+time.Second {
		t.Errorf("the last slow-body connection closed %v after its head, want within the read timeout %v", slowest, readTimeout)
	}
	if tokenless > time.Second {
		t.Errorf("a tokenless slow body was held %v, want it refused on its head", tokenless)
	}
	if worst >= 50*time.Millisecond {
		t.Errorf("the slowest normal request took %v, want < 50 ms throughout", worst)
	}
}
