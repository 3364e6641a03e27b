package dns

import "github.com/meridian-gslb/meridian/geo/geotest"

// ScopesBuilt reports whether the service named name (fully qualified) has its ECS scope map
// and prepared classes: its queries then take the class fast path.
func ScopesBuilt(h *Handler, name string) bool {
	svc := h.snap.Load().services[name]
	return svc != nil && svc.classes.Load() != nil
}

// FeedbackCity is the GeoIP fixture of testdata/feedback.toml.
var FeedbackCity = []geotest.Net{{CIDR: "81.2.64.0/20", Continent: "EU", Country: "GB", Lat: 51.5, Lon: -0.1}}
