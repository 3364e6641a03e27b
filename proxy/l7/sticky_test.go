package l7

import (
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"
)

func TestStickySessions(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		bs := []*backend{newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "c", nil)}
		routes := catchAll(t, "round_robin", bs...)
		routes[0].Sticky = &Sticky{Cookie: "mrd", TTL: time.Hour}
		_, url := startProxy(t, Options{Engine: engine, Routes: routes})
		c := newClient()
		c.Jar, _ = cookiejar.New(nil)

		resp, first := get(t, c, url+"/")
		sc := resp.Header.Get("Set-Cookie")
		if !strings.HasPrefix(sc, "mrd=") || !strings.Contains(sc, "; Max-Age=3600; Path=/; HttpOnly") {
			t.Fatalf("Set-Cookie = %q, want mrd=ID; Max-Age=3600; Path=/; HttpOnly", sc)
		}
		for _, b := range bs {
			if strings.Contains(sc, b.u.Addr) || strings.Contains(sc, b.srv.Listener.Addr().(*net.TCPAddr).IP.String()) {
				t.Errorf("cookie %q reveals the backend address", sc)
			}
		}
		for range 10 {
			resp, body := get(t, c, url+"/")
			if body != first {
				t.Fatalf("sticky client went to %s, then %s", first, body)
			}
			if resp.Header.Get("Set-Cookie") != "" {
				t.Errorf("cookie set again while still valid")
			}
		}

		// Drain the pinned backend: the client moves, gets a new cookie and sticks again.
		var pinned *backend
		for _, b := range bs {
			if b.name == first {
				pinned = b
			}
		}
		pinned.u.SetDraining(true)
		resp, second := get(t, c, url+"/")
		if second == first {
			t.Fatalf("still sent to drained backend %s", first)
		}
		if sc2 := resp.Header.Get("Set-Cookie"); sc2 == "" || sc2 == sc {
			t.Errorf("moved without a new cookie: %q", sc2)
		}
		for range 5 {
			if _, body := get(t, c, url+"/"); body != second {
				t.Fatalf("after moving went to %s, then %s", second, body)
			}
		}
		// An unknown cookie (a backend removed from the config) is replaced as well.
		req := mustReq(t, "GET", url+"/", nil)
		req.AddCookie(&http.Cookie{Name: "mrd", Value: "0123456789abcdef01234567"})
		if resp, _ := do(t, newClient(), req); !strings.HasPrefix(resp.Header.Get("Set-Cookie"), "mrd=") {
			t.Error("stale cookie not replaced")
		}
	})
}
