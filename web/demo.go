package web

import (
	"errors"
	"net/http"
)

// Demo controls the demo backends `meridian serve` runs on its embedded default config, so a
// new user can stop a region and watch the failover.
type Demo interface {
	Regions() []DemoRegion
	SetRunning(region string, running bool) error // wraps ErrNoDemoRegion for an unknown region
}

// ErrNoDemoRegion is returned by Demo.SetRunning for a region without demo backends.
var ErrNoDemoRegion = errors.New("no demo backends in region")

// DemoRegion is one region's demo backends.
type DemoRegion struct {
	Name     string   `json:"name"`
	Backends []string `json:"backends"`
	Running  bool     `json:"running"`
	// Failed are the addresses that could not be bound when the region last started.
	Failed []string `json:"failed,omitempty"`
}

// demoRoutes serves GET /api/v1/demo and POST /api/v1/demo/{region}/{stop|start}. They need
// no token: demo backends exist only on the embedded config, which listens on loopback.
func (a *api) demoRoutes(mux *http.ServeMux) {
	mux.HandleFunc("/api/v1/demo", a.only("GET", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"regions": a.demo.Regions()})
	}))
	mux.HandleFunc("/api/v1/demo/{region}/{action}", a.only("POST", func(w http.ResponseWriter, r *http.Request) {
		var run bool
		switch r.PathValue("action") {
		case "start":
			run = true
		case "stop":
		default:
			writeError(w, http.StatusNotFound, "want /api/v1/demo/REGION/start or /stop")
			return
		}
		if err := a.demo.SetRunning(r.PathValue("region"), run); err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, ErrNoDemoRegion) {
				code = http.StatusNotFound
			}
			writeError(w, code, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"regions": a.demo.Regions()})
	}))
}
