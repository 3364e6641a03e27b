package rrl

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"testing"
)

// benchWorkload returns 4096 clients in 1024 /24 networks and 16 names: with two query types,
// 32768 tokens, which fit the default table, so after warm-up every Decide finds its bucket.
func benchWorkload() ([]netip.Addr, [][]byte) {
	clients := make([]netip.Addr, 4096)
	for i := range clients {
		clients[i] = netip.AddrFrom4([4]byte{100, byte(i >> 10), byte(i >> 2), byte(i)})
	}
	names := make([][]byte, 16)
	for i := range names {
		names[i] = wire(fmt.Sprintf("host%d.example.com", i))
	}
	return clients, names
}

func benchLimiter(b *testing.B, o Options) *Limiter {
	l, err := New(o) // the real clock: time.Now is part of the cost
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func BenchmarkDecide(b *testing.B) {
	clients, names := benchWorkload()
	l := benchLimiter(b, Options{ResponsesPerSecond: 1000, Slip: 2})
	for i := range 1 << 16 {
		l.Decide(clients[i&4095], Answer, names[(i>>12)&15], uint16(1+(i>>16)&1))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Decide(clients[i&4095], Answer, names[(i>>12)&15], uint16(1+(i>>16)&1))
		i++
	}
}

func BenchmarkDecideParallel(b *testing.B) {
	clients, names := benchWorkload()
	l := benchLimiter(b, Options{ResponsesPerSecond: 1000, Slip: 2})
	for i := range 1 << 17 {
		l.Decide(clients[i&4095], Answer, names[(i>>12)&15], uint16(1+(i>>16)&1))
	}
	var seed atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(seed.Add(1), 1))
		i := r.Int()
		for pb.Next() {
			l.Decide(clients[i&4095], Answer, names[(i>>12)&15], uint16(1+(i>>16)&1))
			i++
		}
	})
	st := l.Stats()
	b.ReportMetric(float64(st.Evicted)/float64(b.N), "evictions/op")
}

// BenchmarkDecideParallelChurn floods from ever new networks into a small table, so nearly
// every Decide evicts a bucket.
func BenchmarkDecideParallelChurn(b *testing.B) {
	l := benchLimiter(b, Options{ResponsesPerSecond: 10, Slip: 2, TableSize: 4096})
	name := wire("www.example.com")
	var seed atomic.Uint32
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		v := seed.Add(1) << 24
		for pb.Next() {
			v += 256
			l.Decide(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 1}), Answer, name, 1)
		}
	})
}
