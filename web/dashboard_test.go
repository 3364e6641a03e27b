package web

import (
	"strings"
	"testing"
)

// TestDashboardScriptSafe: the dashboard's script sets API data only as text or attributes, and
// keeps the API token out of cookies.
func TestDashboardScriptSafe(t *testing.T) {
	js, err := static.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "cookie", "localStorage"} {
		if strings.Contains(string(js), bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
	for _, want := range []string{"sessionStorage", `"Bearer "`, "/api/v1/explain", "#service/"} {
		if !strings.Contains(string(js), want) {
			t.Errorf("app.js lacks %s", want)
		}
	}
	page, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="detail"`, `id="explain"`, `id="token" type="password"`, `<pre id="explain-out"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
}

// TestDashboardLand: the page draws the world outline inline when there is one, and says the
// map is a bare grid when there is not (a fresh clone before `make worldmap`).
func TestDashboardLand(t *testing.T) {
	tests := []struct {
		name, land string
		want       []string
		wantNot    []string
	}{
		{"outline", "M180 90l1 0 0-1z", []string{`data-land="drawn"`, `<path id="map-land" class="land" aria-hidden="true" d="M180 90l1 0 0-1z"/>`}, nil},
		{"no outline", "", []string{`data-land="missing"`, `id="map-grid"`}, []string{`id="map-land"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page := string(dashboardPage("n1", tc.land))
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %s", w)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(page, w) {
					t.Errorf("page has %s", w)
				}
			}
		})
	}
}

// TestWorldPath: when `make worldmap` has run, the embedded outline is one compact SVG path
// of closed rings, small enough to inline in the page.
func TestWorldPath(t *testing.T) {
	land, err := static.ReadFile(worldFile)
	if err != nil {
		t.Skipf("%s: %v (make worldmap writes it; the browser test requires it)", worldFile, err)
	}
	if n := len(land); n < 10_000 || n > 60_000 {
		t.Errorf("%s is %d bytes, want 10–60 KB", worldFile, n)
	}
	if strings.Trim(string(land), "0123456789.- Mlz") != "" || !strings.HasPrefix(string(land), "M") || !strings.HasSuffix(string(land), "z") {
		t.Errorf("%s is not a path of closed M…l…z rings: %.40q…", worldFile, land)
	}
}
