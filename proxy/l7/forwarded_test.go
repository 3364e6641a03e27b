package l7

import (
	"bufio"
	"fmt"
	"net/http"
	"testing"
)

func TestForwardingHeaders(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a := newBackend(t, "a", nil)
		_, url := startProxy(t, Options{Engine: engine, Routes: catchAll(t, "round_robin", a)})
		c := newClient()
		req := mustReq(t, "GET", url+"/", nil)
		req.Host = "shop.example:8080"
		req.Header.Add("X-Forwarded-For", "203.0.113.7")
		req.Header.Add("X-Forwarded-For", "198.51.100.2, 192.0.2.1")
		req.Header.Set("X-Forwarded-Proto", "https") // a client's claim, replaced
		req.Header.Set("X-Forwarded-Host", "evil.example")
		req.Header.Set("Forwarded", "for=203.0.113.7")
		resp, _ := do(t, c, req)
		want := map[string]string{
			"X-Got-X-Forwarded-For":   "203.0.113.7, 198.51.100.2, 192.0.2.1, 127.0.0.1",
			"X-Got-X-Forwarded-Proto": "http",
			"X-Got-X-Forwarded-Host":  "shop.example:8080",
			"X-Got-Forwarded":         `for=203.0.113.7, for=127.0.0.1;proto=http;host="shop.example:8080"`,
			"X-Got-Host":              "shop.example:8080",
		}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s = %q, want %q", k[6:], got, v)
			}
		}
	})
}

func TestForwardedElement(t *testing.T) {
	tests := []struct{ ip, proto, host, want string }{
		{"192.0.2.1", "http", "example.com", "for=192.0.2.1;proto=http;host=example.com"},
		{"2001:db8::1", "https", "example.com", `for="[2001:db8::1]";proto=https;host=example.com`},
		{"::1", "http", "[::1]:8080", `for="[::1]";proto=http;host="[::1]:8080"`},
		{"192.0.2.1", "http", "", "for=192.0.2.1;proto=http"},
	}
	for _, tc := range tests {
		if got := string(appendForwardedElem(nil, tc.ip, tc.proto, tc.host)); got != tc.want {
			t.Errorf("forwarded(%s, %s, %s) = %s, want %s", tc.ip, tc.proto, tc.host, got, tc.want)
		}
	}
}

func TestHopByHopHeadersDropped(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a := newBackend(t, "a", nil)
		_, url := startProxy(t, Options{Engine: engine, Routes: catchAll(t, "round_robin", a)})
		conn := rawConn(t, url[len("http://"):])
		fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Hop\r\nX-Hop: secret\r\n"+
			"Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-T\r\n"+
			"Upgrade: h2c\r\nX-End: kept\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"Connection", "X-Hop", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Upgrade"} {
			if v := resp.Header.Get("X-Got-" + k); v != "" {
				t.Errorf("backend got %s: %q", k, v)
			}
		}
		if resp.StatusCode != 200 {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
}

func TestHopByHopResponseHeadersDropped(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a := newBackend(t, "a", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "X-Secret")
			w.Header().Set("X-Secret", "1")
			w.Header().Set("Keep-Alive", "timeout=3")
			w.Header().Set("X-Fine", "1")
		}))
		_, url := startProxy(t, Options{Engine: engine, Routes: catchAll(t, "round_robin", a)})
		resp, _ := get(t, newClient(), url+"/")
		for _, k := range []string{"X-Secret", "Keep-Alive"} {
			if resp.Header.Get(k) != "" {
				t.Errorf("client got %s", k)
			}
		}
		if resp.Header.Get("X-Fine") != "1" {
			t.Error("end-to-end header X-Fine lost")
		}
	})
}
