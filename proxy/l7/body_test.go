package l7

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// hashHandler answers with the length and SHA-256 of the request body.
func hashHandler(w http.ResponseWriter, r *http.Request) {
	h := sha256.New()
	n, err := io.Copy(h, r.Body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	fmt.Fprintf(w, "%d %x %v", n, h.Sum(nil), r.TransferEncoding)
}

func TestRequestBodies(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a := newBackend(t, "a", http.HandlerFunc(hashHandler))
		_, url := startProxy(t, Options{Engine: engine, Routes: catchAll(t, "round_robin", a)})
		c := newClient()
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
		sum := sha256.Sum256(big)
		tests := []struct {
			name    string
			body    io.Reader
			length  int64
			wantEnc string
		}{
			{"content-length", bytes.NewReader(big), int64(len(big)), "[]"},
			{"chunked", io.MultiReader(bytes.NewReader(big[:1000]), bytes.NewReader(big[1000:])), -1, "[chunked]"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				req := mustReq(t, "POST", url+"/", tc.body)
				req.ContentLength = tc.length
				resp, body := do(t, c, req)
				want := fmt.Sprintf("%d %x %s", len(big), sum, tc.wantEnc)
				if resp.StatusCode != 200 || body != want {
					t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, want)
				}
			})
		}
	})
}

func TestExpectContinue(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a := newBackend(t, "a", http.HandlerFunc(hashHandler))
		_, url := startProxy(t, Options{Engine: engine, Routes: catchAll(t, "round_robin", a)})
		conn := rawConn(t, url[len("http://"):])
		fmt.Fprint(conn, "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		br := bufio.NewReader(conn)
		line, err := br.ReadString('\n')
		if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("first line %q, %v; want 100 Continue before the body is sent", line, err)
		}
		if l, _ := br.ReadString('\n'); l != "\r\n" {
			t.Fatalf("after 100: %q", l)
		}
		fmt.Fprint(conn, "hello")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if sum := sha256.Sum256([]byte("hello")); string(body) != fmt.Sprintf("5 %x []", sum) {
			t.Errorf("body %q", body)
		}
	})
}

func TestResponseFraming(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		a := newBackend(t, "a", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/chunked":
				io.WriteString(w, "part1-")
				w.(http.Flusher).Flush()
				io.WriteString(w, "part2")
			case "/eof": // HTTP/1.0-style: no length, ends at close
				conn, bw, _ := w.(http.Hijacker).Hijack()
				bw.WriteString("HTTP/1.1 200 OK\r\nX-Backend: eof\r\n\r\nuntil the end")
				bw.Flush()
				conn.Close()
			case "/204":
				w.WriteHeader(204)
			case "/304":
				w.Header().Set("Etag", `"x"`)
				w.WriteHeader(304)
			default:
				w.Header().Set("Content-Length", "5")
				io.WriteString(w, "hello")
			}
		}))
		_, url := startProxy(t, Options{Engine: engine, Routes: catchAll(t, "round_robin", a)})
		addr := url[len("http://"):]
		tests := []struct {
			name, method, path string
			proto              string
			code               int
			body               string
			wantTE             []string
		}{
			{"length", "GET", "/", "1.1", 200, "hello", nil},
			{"head has no body", "HEAD", "/", "1.1", 200, "", nil},
			{"chunked", "GET", "/chunked", "1.1", 200, "part1-part2", []string{"chunked"}},
			{"close-delimited becomes chunked", "GET", "/eof", "1.1", 200, "until the end", []string{"chunked"}},
			{"close-delimited to HTTP/1.0", "GET", "/eof", "1.0", 200, "until the end", nil},
			{"chunked to HTTP/1.0", "GET", "/chunked", "1.0", 200, "part1-part2", nil},
			{"204", "GET", "/204", "1.1", 204, "", nil},
			{"304", "GET", "/304", "1.1", 304, "", nil},
		}
		conn := rawConn(t, addr) // one keep-alive connection for every 1.1 case
		br := bufio.NewReader(conn)
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				c, r := conn, br
				if tc.proto == "1.0" {
					c = rawConn(t, addr)
					r = bufio.NewReader(c)
				}
				fmt.Fprintf(c, "%s %s HTTP/%s\r\nHost: x\r\n\r\n", tc.method, tc.path, tc.proto)
				resp, err := http.ReadResponse(r, &http.Request{Method: tc.method})
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tc.code || string(body) != tc.body {
					t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tc.code, tc.body)
				}
				if fmt.Sprint(resp.TransferEncoding) != fmt.Sprint(tc.wantTE) {
					t.Errorf("transfer-encoding %v, want %v", resp.TransferEncoding, tc.wantTE)
				}
				if tc.proto == "1.0" && !resp.Close {
					t.Error("HTTP/1.0 response without close")
				}
			})
		}
	})
}

// TestStreaming shows a body is relayed as it comes, not buffered whole: the client sees
// the first part while the backend still waits to send the rest.
func TestStreaming(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		release := make(chan struct{})
		a := newBackend(t, "a", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.Repeat("x", 100<<10))
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-time.After(5 * time.Second):
			}
			io.WriteString(w, "end")
		}))
		_, url := startProxy(t, Options{Engine: engine, Routes: catchAll(t, "round_robin", a)})
		resp, err := newClient().Get(url + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 100<<10)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			t.Fatalf("first part: %v", err)
		}
		close(release)
		rest, _ := io.ReadAll(resp.Body)
		if string(rest) != "end" {
			t.Errorf("rest %q", rest)
		}
	})
}
