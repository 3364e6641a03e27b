package l7

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/meridian-gslb/meridian/proxy/balance"
	"github.com/meridian-gslb/meridian/proxy/stats"
)

// dead is an Upstream nothing listens on: connections are refused.
func dead(t testing.TB, id string) *balance.Upstream {
	u := balance.NewUpstream(deadAddr(t), 1)
	u.ID = id
	return u
}

// hangUp is a backend that reads a request head and closes without answering.
func hangUp(t testing.TB, id string) *balance.Upstream {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(c)
			for {
				line, err := br.ReadString('\n')
				if err != nil || line == "\r\n" {
					break
				}
			}
			c.Close()
		}
	}()
	u := balance.NewUpstream(ln.Addr().String(), 1)
	u.ID = id
	return u
}

func TestRetries(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		tests := []struct {
			name    string
			method  string
			first   func(t testing.TB) *balance.Upstream
			retries int
			code    int
			retried float64
		}{
			{"GET refused goes elsewhere", "GET", func(t testing.TB) *balance.Upstream { return dead(t, "dead") }, 2, 200, 1},
			{"POST refused goes elsewhere", "POST", func(t testing.TB) *balance.Upstream { return dead(t, "dead") }, 2, 200, 1},
			{"no retries configured", "GET", func(t testing.TB) *balance.Upstream { return dead(t, "dead") }, 0, 502, 0},
			{"GET hung up goes elsewhere", "GET", func(t testing.TB) *balance.Upstream { return hangUp(t, "hup") }, 2, 200, 1},
			{"POST hung up is not resent", "POST", func(t testing.TB) *balance.Upstream { return hangUp(t, "hup") }, 2, 502, 0},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				good := newBackend(t, "good", nil)
				m := stats.New(nil)
				// weighted_round_robin with weight 5 on the bad one: it is picked first.
				bad := tc.first(t)
				bad.Weight = 5
				_, url := startProxy(t, Options{Engine: engine, Metrics: m, Retries: tc.retries, Routes: []*Route{{
					Backends: []*balance.Upstream{bad, good.u}, Selector: selector(t, "weighted_round_robin")}}})
				var reqBody io.Reader
				if tc.method == "POST" {
					reqBody = strings.NewReader("x")
				}
				resp, body := do(t, newClient(), mustReq(t, tc.method, url+"/", reqBody))
				if resp.StatusCode != tc.code {
					t.Fatalf("status %d (%q), want %d", resp.StatusCode, body, tc.code)
				}
				if tc.code == 200 && body != "good" {
					t.Errorf("body %q, want good", body)
				}
				if got := testutil.ToFloat64(m.Retries.WithLabelValues("test")); got != tc.retried {
					t.Errorf("retries counted %v, want %v", got, tc.retried)
				}
			})
		}
	})
}

func TestRetriesBounded(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		us := []*balance.Upstream{dead(t, "d1"), dead(t, "d2"), dead(t, "d3"), dead(t, "d4")}
		m := stats.New(nil)
		_, url := startProxy(t, Options{Engine: engine, Metrics: m, Retries: 2, Routes: []*Route{{Backends: us, Selector: new(balance.RoundRobin)}}})
		resp, _ := get(t, newClient(), url+"/")
		if resp.StatusCode != 502 {
			t.Errorf("status %d, want 502", resp.StatusCode)
		}
		if got := testutil.ToFloat64(m.Retries.WithLabelValues("test")); got != 2 {
			t.Errorf("retries %v, want 2", got)
		}
		waitFor(t, "one 502 counted", func() bool {
			return testutil.ToFloat64(m.Requests.WithLabelValues("test", "d3", "502"))+
				testutil.ToFloat64(m.Requests.WithLabelValues("test", "d4", "502"))+
				testutil.ToFloat64(m.Requests.WithLabelValues("test", "d1", "502"))+
				testutil.ToFloat64(m.Requests.WithLabelValues("test", "d2", "502")) == 1
		})
	})
}

func TestPassiveEjection(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		sick := newBackend(t, "sick", nil)
		sick.srv.Config.Handler = httpStatus(500)
		good := newBackend(t, "good", nil)
		m := stats.New(nil)
		_, url := startProxy(t, Options{Engine: engine, Metrics: m, Outlier: &balance.Outlier{Failures: 3, Base: time.Minute},
			Routes: catchAll(t, "round_robin", sick, good)})
		c := newClient()
		fails := 0
		for range 20 {
			if resp, _ := get(t, c, url+"/"); resp.StatusCode == 500 {
				fails++
			}
		}
		if fails != 3 {
			t.Errorf("500s seen %d, want 3 (then ejected)", fails)
		}
		if !sick.u.Ejected() {
			t.Error("sick backend not ejected")
		}
		if got := testutil.ToFloat64(m.Ejections.WithLabelValues("test", "sick")); got != 1 {
			t.Errorf("ejections %v, want 1", got)
		}
		// The count is taken as the response's last byte leaves, so it may trail the client.
		waitFor(t, "17 requests counted for good", func() bool {
			return testutil.ToFloat64(m.Requests.WithLabelValues("test", "good", "200")) == 17
		})
	})
}
