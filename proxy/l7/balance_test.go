package l7

import (
	"fmt"
	"net/http"
	"testing"
)

func TestEverySelector(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		for _, sel := range []string{"round_robin", "weighted_round_robin", "least_conn", "ip_hash",
			"consistent_hash", "random", "p2c"} {
			t.Run(sel, func(t *testing.T) {
				bs := []*backend{newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "c", nil)}
				bs[2].u.SetDraining(true)
				_, url := startProxy(t, Options{Engine: engine, Routes: catchAll(t, sel, bs...)})
				c := newClient()
				seen := map[string]int{}
				for i := range 60 {
					req := mustReq(t, "GET", url+"/", nil)
					req.Header.Set("X-Key", fmt.Sprint(i))
					resp, body := do(t, c, req)
					if resp.StatusCode != 200 {
						t.Fatalf("status %d", resp.StatusCode)
					}
					seen[body]++
				}
				if seen["c"] != 0 {
					t.Errorf("draining backend got %d requests", seen["c"])
				}
				// ip_hash and consistent_hash key on the one client IP: one backend only.
				if sel != "ip_hash" && sel != "consistent_hash" && (seen["a"] == 0 || seen["b"] == 0) {
					t.Errorf("requests by backend = %v, want both a and b used", seen)
				}
			})
		}
	})
}

func TestHashKeys(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		tests := []struct {
			key string
			set func(r *http.Request, k int)
		}{
			{"header:X-User", func(r *http.Request, k int) { r.Header.Set("X-User", fmt.Sprint("user-", k)) }},
			{"cookie:session", func(r *http.Request, k int) { r.AddCookie(&http.Cookie{Name: "session", Value: fmt.Sprint("s", k)}) }},
			{"path", func(r *http.Request, k int) { r.URL.Path = fmt.Sprint("/item/", k) }},
		}
		for _, sel := range []string{"ip_hash", "consistent_hash"} {
			for _, tc := range tests {
				t.Run(sel+"/"+tc.key, func(t *testing.T) {
					bs := []*backend{newBackend(t, "a", nil), newBackend(t, "b", nil), newBackend(t, "c", nil)}
					routes := catchAll(t, sel, bs...)
					routes[0].HashKey = tc.key
					_, url := startProxy(t, Options{Engine: engine, Routes: routes})
					c := newClient()
					seen := map[string]bool{}
					for k := range 30 {
						first := ""
						for range 4 {
							req := mustReq(t, "GET", url+"/", nil)
							tc.set(req, k)
							_, body := do(t, c, req)
							if first == "" {
								first = body
							} else if body != first {
								t.Fatalf("key %d went to %s, then %s", k, first, body)
							}
						}
						seen[first] = true
					}
					if len(seen) != 3 {
						t.Errorf("30 keys reached %d backends, want 3", len(seen))
					}
				})
			}
		}
		t.Run("ip", func(t *testing.T) {
			bs := []*backend{newBackend(t, "a", nil), newBackend(t, "b", nil)}
			_, url := startProxy(t, Options{Engine: engine, Routes: catchAll(t, "ip_hash", bs...)})
			c := newClient()
			_, first := get(t, c, url+"/")
			for range 10 {
				if _, body := get(t, c, url+"/"); body != first {
					t.Fatalf("same client IP went to %s, then %s", first, body)
				}
			}
		})
	})
}
