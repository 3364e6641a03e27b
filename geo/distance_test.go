package geo

import (
	"math"
	"testing"
)

func TestDistance(t *testing.T) {
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want, tolerance        float64 // km
	}{
		{"same point", 50.11, 8.68, 50.11, 8.68, 0, 1e-9},
		{"London-Paris", 51.5074, -0.1278, 48.8566, 2.3522, 343.5, 1},
		{"Frankfurt-Virginia", 50.11, 8.68, 38.95, -77.45, 6553.3, 1}, // FRA–IAD is about 6,540 km on the ellipsoid
		{"quarter meridian", 0, 0, 90, 0, 2 * math.Pi * earthRadius / 4, 1e-6},
		{"antipodes", 0, 0, 0, 180, math.Pi * earthRadius, 1e-6},
		{"across the antimeridian", 0, 179.5, 0, -179.5, 111.2, 0.1},
		{"Sydney-Tokyo", -33.87, 151.21, 35.69, 139.69, 7826.9, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Distance(tc.lat1, tc.lon1, tc.lat2, tc.lon2)
			if math.Abs(got-tc.want) > tc.tolerance {
				t.Errorf("Distance = %.3f km, want %.3f ± %g", got, tc.want, tc.tolerance)
			}
			if back := Distance(tc.lat2, tc.lon2, tc.lat1, tc.lon1); math.Abs(back-got) > 1e-9 {
				t.Errorf("Distance is not symmetric: %.6f and %.6f", got, back)
			}
		})
	}
}
