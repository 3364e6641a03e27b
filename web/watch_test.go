package web

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/meridian-gslb/meridian/health"
	"github.com/meridian-gslb/meridian/store"
)

// TestFollowerFollowsTheWatchStream: a Follower sees every endpoint at connect, each override
// as a proxy treats it (a drained endpoint keeps its probers' verdict), and reconnects with a
// full set after the connection breaks.
func TestFollowerFollowsTheWatchStream(t *testing.T) {
	h, st := newAPI(t, "")
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	got := make(chan map[string]EndpointState, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	f := &Follower{Base: srv.URL, Retry: 10 * time.Millisecond}
	go func() {
		defer close(done)
		f.Run(ctx, func(m map[string]EndpointState) {
			c := make(map[string]EndpointState, len(m))
			for k, v := range m {
				c[k] = v
			}
			got <- c
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	var last map[string]EndpointState // what the follower applied last
	want := func(why, id string, es EndpointState) {
		t.Helper()
		deadline := time.After(2 * time.Second)
		for last == nil || last[id] != es {
			select {
			case last = <-got:
			case <-deadline:
				t.Fatalf("%s: %s never became %+v (last %+v)", why, id, es, last)
			}
		}
	}
	want("at connect", "a/127.0.0.1", EndpointState{State: health.Up})
	want("at connect", "a/2001:db8::1", EndpointState{State: health.Down})

	if err := st.SetOverride("a/127.0.0.1", store.Override{Kind: store.Drain, Who: "test"}); err != nil {
		t.Fatal(err)
	}
	want("drained", "a/127.0.0.1", EndpointState{State: health.Up, Override: "drain"})
	if err := st.SetOverride("a/127.0.0.1", store.Override{Kind: store.ForceDown, Who: "test"}); err != nil {
		t.Fatal(err)
	}
	want("forced down", "a/127.0.0.1", EndpointState{State: health.Down, Override: "force-down"})

	srv.CloseClientConnections() // the node goes away; the follower reconnects
	if err := st.ClearOverride("a/127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	want("cleared, after a reconnect", "a/127.0.0.1", EndpointState{State: health.Up})
}
