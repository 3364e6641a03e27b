// Command backend serves the scale benchmark's probe targets: HTTP on -n consecutive ports of
// 127.0.0.1 from -port, answering 200 "ok" to every request (a tcp monitor's connect succeeds
// too). The first port flaps when -flap is set: it answers 503 for one -flap period, 200 for the
// next, and so on, so the endpoints probed there go down and up (a few percent of them). It
// exits on SIGTERM or SIGINT, or after -max in any case.
//
//	go run ./test/bench/scale/backend [-port 19101] [-n 16] [-flap 2m] [-max 2h]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	port := flag.Int("port", 19101, "first port on 127.0.0.1")
	n := flag.Int("n", 16, "ports")
	flap := flag.Duration("flap", 0, "the first port alternates 503 and 200 for this long each (0: never)")
	maxLife := flag.Duration("max", 2*time.Hour, "exit after this long in any case")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *maxLife)
	defer cancel()
	if err := run(ctx, *port, *n, *flap); err != nil {
		fmt.Fprintln(os.Stderr, "backend:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, port, n int, flap time.Duration) error {
	var failing atomic.Bool
	if flap > 0 {
		go func() {
			t := time.NewTicker(flap)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					failing.Store(!failing.Load())
				}
			}
		}()
	}
	ok := func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) }
	flapping := func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "flapping", http.StatusServiceUnavailable)
			return
		}
		ok(w, r)
	}
	var srvs []*http.Server
	errc := make(chan error, n)
	for i := range n {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+i))
		if err != nil {
			return err
		}
		h := http.HandlerFunc(ok)
		if i == 0 && flap > 0 {
			h = flapping
		}
		s := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 30 * time.Second}
		srvs = append(srvs, s)
		go func() { errc <- s.Serve(ln) }()
	}
	fmt.Printf("backend: listening on 127.0.0.1:%d-%d (flap %s)\n", port, port+n-1, flap)
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range srvs {
		s.Shutdown(sctx)
	}
	return nil
}
