package web

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
)

// static holds the dashboard: plain HTML, CSS and JavaScript, no build step and no CDN.
//
//go:embed static
var static embed.FS

var index = template.Must(template.ParseFS(static, "static/index.html"))

// registerDashboard serves the dashboard at / and its assets under /ui/. It reads
// /api/v1/regions once and then follows /api/v1/stream.
func registerDashboard(mux *http.ServeMux, node string) {
	var page bytes.Buffer
	if err := index.Execute(&page, struct{ Node string }{node}); err != nil {
		panic(err) // our own template over a string: a bug
	}
	body := page.Bytes()
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

// secure sets the headers that keep the dashboard's data from ever running as code.
func secure(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}
