package web

import "net/http"

// RegionInfo is one region of the running config, for the dashboard's map. Lat and Lon are
// meaningful only with HasCoords: regions need no coordinates unless a policy uses them.
type RegionInfo struct {
	Name      string  `json:"name"`
	Lat       float64 `json:"lat"`
	Lon       float64 `json:"lon"`
	HasCoords bool    `json:"has_coords"`
}

// regions: GET /api/v1/regions → {"regions": [...]}, empty when none are configured.
func (a *api) regions(w http.ResponseWriter, _ *http.Request) {
	out := []RegionInfo{}
	if a.regs != nil {
		out = append(out, a.regs()...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"regions": out})
}
