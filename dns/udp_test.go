package dns_test

import (
	"context"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/dns"
	"github.com/meridian-gslb/meridian/dns/dnstest"
)

// The UDP readers sleep in the kernel holding a P (udp_linux.go). These tests pin down what that
// must not break: the garbage collector still stops the world, with queries flowing and idle;
// the process keeps its Ps for other work; shutdown is prompt; and queries are answered
// throughout.

func TestUDPReadersLetTheWorldStop(t *testing.T) {
	addr := dnstest.Start(t, dnstest.Handler(t, "testdata/zone.toml", nil), "127.0.0.1")
	for _, load := range []bool{false, true} {
		name := map[bool]string{false: "idle", true: "under load"}[load]
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			if load {
				for range 4 {
					wg.Go(func() { queryUntil(ctx, t, addr) })
				}
			}
			done := make(chan struct{})
			go func() {
				for range 20 {
					runtime.GC() // two stop-the-world phases each
				}
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Error("20 garbage collections did not finish within 10s: a UDP reader does not stop for the world")
			}
			cancel()
			wg.Wait()
		})
	}
}

// queryUntil sends queries until ctx ends; every one must be answered.
func queryUntil(ctx context.Context, t *testing.T, addr netip.AddrPort) {
	c := &mdns.Client{Timeout: 2 * time.Second}
	for ctx.Err() == nil {
		r, _, err := c.Exchange(dnstest.Msg("www.example.test.", mdns.TypeA), addr.String())
		if err != nil {
			t.Errorf("query: %v", err)
			return
		}
		if len(r.Answer) != 1 {
			t.Errorf("answer = %v, want one A record", r.Answer)
			return
		}
	}
}

func TestServerGivesEachReaderAPAndStopsPromptly(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	h := dnstest.Handler(t, "testdata/zone.toml", nil)
	srv := dns.NewServer(h, dnstest.Logger(t), 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0"), netip.MustParseAddrPort("[::1]:0")}
	if err := srv.Listen(ctx, addrs); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "linux" && srv.HeldProcs() != 6 {
		t.Errorf("HeldProcs = %d, want 6 (one per UDP socket)", srv.HeldProcs())
	}
	restore := dnstest.HoldProcs(srv.HeldProcs())
	done := make(chan error, 1)
	go func() { err := srv.Run(ctx); restore(); done <- err }()
	for _, a := range srv.Addrs() {
		r, _, err := (&mdns.Client{Timeout: 2 * time.Second}).Exchange(dnstest.Msg("www.example.test.", mdns.TypeA), a.String())
		if err != nil || len(r.Answer) != 1 {
			t.Fatalf("query %s: %v %v", a, r, err)
		}
	}
	if runtime.GOOS == "linux" {
		if got, want := runtime.GOMAXPROCS(0), before+6; got != want {
			t.Errorf("GOMAXPROCS while serving = %d, want %d (one more per UDP socket)", got, want)
		}
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancel")
	}
	// shutdown(2) wakes a reader at once; without it a reader would wait out its receive timeout.
	if d := time.Since(start); d > time.Second {
		t.Errorf("Run took %v to stop, want well under a second", d)
	}
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS after Run = %d, want %d again", got, before)
	}
}
