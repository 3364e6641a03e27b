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
