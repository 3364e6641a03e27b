package l4

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/proxy/balance"
)

// echoPeerEnv, when set to a round-trip count, makes the test binary the echo peer of
// BenchmarkL4Echo instead of running tests.
const echoPeerEnv = "L4_ECHO_PEER"

func TestMain(m *testing.M) {
	if n := os.Getenv(echoPeerEnv); n != "" {
		os.Exit(echoPeer(n))
	}
	os.Exit(m.Run())
}

// BenchmarkL4Echo is many small (128-byte) round trips on one proxied connection to a
// loopback echo backend: the per-round-trip cost that keep-alive HTTP through an L4 proxy
// pays. The client and the backend run in another process (this binary, as echoPeer), so that
// cpu-ns/op is the proxy's own CPU per round trip and allocs/op its own allocations, with
// the proxy's process to itself as in production. "direct" is the peer's client talking to
// its backend without the proxy: its ns/op is the floor.
func BenchmarkL4Echo(b *testing.B) {
	modes := []struct{ name, engine string }{{"direct", ""}, {"go", "go"}, {"go-splice", "go"}}
	if epollSupported {
		modes = append(modes, struct{ name, engine string }{"epoll", "epoll"})
	}
	for _, mode := range modes {
		b.Run(mode.name, func(b *testing.B) {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), echoPeerEnv+"="+strconv.Itoa(b.N))
			cmd.Stderr = os.Stderr
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			defer cmd.Wait()
			defer stdin.Close()
			out := bufio.NewReader(stdout)
			backend := readLine(b, out)
			target := backend
			if mode.engine != "" {
				up := balance.NewUpstream(backend, 1)
				s, err := New(Options{Listen: "127.0.0.1:0", Backends: []*balance.Upstream{up}, Engine: mode.engine})
				if err != nil {
					b.Fatal(err)
				}
				s.spliceOnly = mode.name == "go-splice"
				s, _ = startProxyServer(b, s)
				target = s.Addr().String()
			}
			b.SetBytes(128)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime(b)
			fmt.Fprintln(stdin, target)
			if got := readLine(b, out); got != "done" {
				b.Fatalf("echo peer: %s", got)
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

func readLine(b *testing.B, r *bufio.Reader) string {
	b.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		b.Fatalf("echo peer: %v", err)
	}
	return strings.TrimSpace(line)
}

// echoPeer is the other process of BenchmarkL4Echo: it starts an echo backend and prints its
// address, reads the address to dial, makes n round trips there, and prints "done".
func echoPeer(count string) int {
	n, err := strconv.Atoi(count)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	fmt.Println(ln.Addr())
	target, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		fmt.Println(err)
		return 1
	}
	c, err := net.DialTimeout("tcp", strings.TrimSpace(target), 2*time.Second)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer c.Close()
	msg, got := make([]byte, 128), make([]byte, 128)
	for range n {
		if _, err := c.Write(msg); err != nil {
			fmt.Println(err)
			return 1
		}
		if _, err := io.ReadFull(c, got); err != nil {
			fmt.Println(err)
			return 1
		}
	}
	fmt.Println("done")
	return 0
}

// cpuTime is this process's user+system CPU time: the proxy's, as the benchmark's client and
// backend run elsewhere.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
