package web

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// proberJSON is one prober that has reported on some target, as the current View has it.
type proberJSON struct {
	Name string `json:"name"`
	// Region of its latest report that names one; "" for local or unknown.
	Region     string    `json:"region"`
	LastReport time.Time `json:"last_report"`
	// AgeSeconds is how old LastReport was when the View was evaluated.
	AgeSeconds float64 `json:"age_seconds"`
	// Fresh: at least one of its reports counts towards a quorum.
	Fresh   bool     `json:"fresh"`
	Targets []string `json:"targets"`
}

// probers: GET /api/v1/probers → {"probers": [...]}, sorted by name.
func (a *api) probers(w http.ResponseWriter, _ *http.Request) {
	v := a.h.View()
	byName := map[string]*proberJSON{}
	regionAt := map[string]time.Time{}
	for _, id := range v.Targets() { // sorted, so each prober's targets are too
		for _, r := range v.Target(id).Reports {
			p := byName[r.Prober]
			if p == nil {
				p = &proberJSON{Name: r.Prober, Targets: []string{}}
				byName[r.Prober] = p
			}
			if r.At.After(p.LastReport) {
				p.LastReport = r.At
			}
			if r.Region != "" && !r.At.Before(regionAt[r.Prober]) {
				p.Region, regionAt[r.Prober] = r.Region, r.At
			}
			p.Fresh = p.Fresh || r.Fresh
			p.Targets = append(p.Targets, id)
		}
	}
	out := make([]proberJSON, 0, len(byName))
	for _, p := range byName {
		p.AgeSeconds = max(0, v.At().Sub(p.LastReport).Seconds())
		p.LastReport = p.LastReport.UTC()
		out = append(out, *p)
	}
	slices.SortFunc(out, func(x, y proberJSON) int { return strings.Compare(x.Name, y.Name) })
	writeJSON(w, http.StatusOK, map[string]any{"probers": out})
}
