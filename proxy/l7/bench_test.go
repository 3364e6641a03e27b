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
	for _, e := range engines() {
		b.Run(e, func(b *testing.B) {
			do := smallGETs(b, e)
			do(100) // warm the pools
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				do(1)
			}
		})
	}
}

// smallGETs starts a proxy with the engine over three raw backends and returns a function
// doing n keep-alive GETs through it on one connection.
func smallGETs(tb testing.TB, engine string) func(n int) {
	us := []*balance.Upstream{rawBackend(tb), rawBackend(tb), rawBackend(tb)}
	_, url := startProxy(tb, Options{Engine: engine, Metrics: stats.New(prometheus.NewRegistry()),
		Routes: []*Route{{Backends: us, Selector: new(balance.RoundRobin)}}})
	c, err := net.Dial("tcp", url[len("http://"):])
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	req := []byte("GET / HTTP/1.1\r\nHost: bench.example\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	br := bufio.NewReader(c)
	body := make([]byte, 13)
	readOne := func() {
		cl := -1
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				tb.Fatal(err)
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
			tb.Fatalf("content-length %d", cl)
		}
		if _, err := io.ReadFull(br, body); err != nil {
			tb.Fatal(err)
		}
	}
	return func(n int) {
		for range n {
			if _, err := c.Write(req); err != nil {
				tb.Fatal(err)
			}
			readOne()
		}
	}
}
