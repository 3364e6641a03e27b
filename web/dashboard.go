package web

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
)

// static holds the dashboard: plain HTML, CSS and JavaScript, no CDN, and the map's world
// outline when `make worldmap` has written it (worldFile, gitignored).
//
//go:generate go run ./internal/mkworld -o static/world.svg-path
//go:embed static
var static embed.FS

// worldFile is Natural Earth's 110 m land as one SVG path in the map's equirectangular
// coordinates (web/internal/mkworld). A fresh clone has none: the map is then a bare grid.
const worldFile = "static/world.svg-path"

var index = template.Must(template.ParseFS(static, "static/index.html"))

// registerDashboard serves the dashboard at / and its assets under /ui/. It reads
// /api/v1/regions once and then follows /api/v1/stream.
func registerDashboard(mux *http.ServeMux, node string) {
	land, _ := static.ReadFile(worldFile) // absent: the grid alone
	body := dashboardPage(node, string(land))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		secure(w.Header())
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(body)
	})
	assets, _ := fs.Sub(static, "static")
	files := http.StripPrefix("/ui/", http.FileServerFS(assets))
	mux.Handle("GET /ui/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secure(w.Header())
		files.ServeHTTP(w, r)
	}))
}

// dashboardPage is the page at /: the node's name and the world outline, drawn inline so the
// map needs no second request.
func dashboardPage(node, land string) []byte {
	var page bytes.Buffer
	if err := index.Execute(&page, struct{ Node, Land string }{node, land}); err != nil {
		panic(err) // our own template over strings: a bug
	}
	return page.Bytes()
}

// secure sets the headers that keep the dashboard's data from ever running as code.
func secure(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}
