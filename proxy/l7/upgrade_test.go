package l7

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// echoUpgrade answers an Upgrade request with 101 and then echoes every byte back.
func echoUpgrade(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Upgrade") != "websocket" {
		http.Error(w, "want an upgrade", 400)
		return
	}
	conn, bw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	bw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	bw.Flush()
	io.Copy(conn, bw.Reader)
}

func TestUpgradePassThrough(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a := newBackend(t, "a", http.HandlerFunc(echoUpgrade))
		_, url := startProxy(t, Options{Engine: engine, WebSocketIdleTimeout: 300 * time.Millisecond, Routes: catchAll(t, "round_robin", a)})
		c := rawConn(t, url[len("http://"):])
		fmt.Fprint(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "websocket" {
			t.Fatalf("status %d upgrade %q, want 101 websocket", resp.StatusCode, resp.Header.Get("Upgrade"))
		}
		for i := range 3 {
			msg := fmt.Sprintf("frame %d", i)
			fmt.Fprint(c, msg)
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
				t.Fatalf("echo %q, %v; want %q", got, err, msg)
			}
		}
		start := time.Now() // now idle: the proxy ends the tunnel after WebSocketIdleTimeout
		if _, err := br.ReadByte(); err == nil {
			t.Error("read a byte from an idle tunnel")
		}
		if el := time.Since(start); el < 200*time.Millisecond || el > 3*time.Second {
			t.Errorf("idle tunnel closed after %v, want about 300ms", el)
		}
	})
}
