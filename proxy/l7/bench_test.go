package l7

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gslb/meridian/proxy/balance"
	"github.com/meridian-gslb/meridian/proxy/stats"
)

// rawBackend is a minimal keep-alive HTTP/1.1 server that answers every request head with
// a fixed small response, so that a benchmark measures the proxy rather than net/http.
func rawBackend(tb testing.TB) *balance.Upstream {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, world\n")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					for { // read one head
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	u := balance.NewUpstream(ln.Addr().String(), 1)
	u.ID = ln.Addr().String()
	return u
}

// BenchmarkProxyGET is one keep-alive client doing small GETs through the proxy to raw
// backends (round robin over three), metrics on; allocations counted are the whole
// process's (the raw client and backends allocate nothing per request).
func BenchmarkProxyGET(b *testing.B) {
	us := []*balance.Upstream{rawBackend(b), rawBackend(b), rawBackend(b)}
	_, url := startProxy(b, Options{Metrics: stats.New(prometheus.NewRegistry()),
		Routes: []*Route{{Backends: us, Selector: new(balance.RoundRobin)}}})
	c, err := net.Dial("tcp", url[len("http://"):])
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET / HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	br := bufio.NewReader(c)
	body := make([]byte, 13)
	readOne := func() {
		cl := -1
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) <= 2 {
				break
			}
			if bytes.HasPrefix(line, []byte("Content-Length: ")) {
				cl = int(line[16] - '0')
				if len(line) > 19 {
					cl = cl*10 + int(line[17]-'0')
				}
			}
		}
		if cl != 13 {
			b.Fatalf("content-length %d", cl)
		}
		if _, err := io.ReadFull(br, body); err != nil {
			b.Fatal(err)
		}
	}
	for range 100 { // warm the pools
		c.Write(req)
		readOne()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		readOne()
	}
}
