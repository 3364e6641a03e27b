package main

import (
	"strings"
	"testing"
)

func TestTenths(t *testing.T) {
	tests := []struct {
		v    int
		want string
	}{{0, "0"}, {3, ".3"}, {-3, "-.3"}, {12, "1.2"}, {-12, "-1.2"}, {20, "2"}, {-3600, "-360"}}
	for _, tc := range tests {
		if got := tenths(tc.v); got != tc.want {
			t.Errorf("tenths(%d) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestLandPath(t *testing.T) {
	tests := []struct {
		name, topo, want string
	}{
		{"square, arcs reversed and joined",
			`{"type":"Topology","arcs":[[[0,0],[10,0],[10,10]],[[0,0],[0,10],[10,10]]],
			  "objects":{"land":{"type":"GeometryCollection","geometries":[{"type":"Polygon","arcs":[[0,-2]]}]}}}`,
			"M180 90l10 0 0-10-10 0z"},
		{"quantized and delta-encoded",
			`{"type":"Topology","transform":{"scale":[0.5,0.5],"translate":[-10,-10]},"arcs":[[[0,0],[20,0],[0,20],[-20,0],[0,-20]]],
			  "objects":{"land":{"type":"MultiPolygon","arcs":[[[0]]]}}}`,
			"M170 100l10 0 0-10-10 0z"},
		{"across the antimeridian: drawn at both edges",
			`{"type":"Topology","arcs":[[[170,0],[-170,0],[-170,10],[170,10],[170,0]]],
			  "objects":{"land":{"type":"Polygon","arcs":[[0]]}}}`,
			"M-10 90l20 0 0-10-20 0zM350 90l20 0 0-10-20 0z"},
		{"antarctic ring dropped",
			`{"type":"Topology","arcs":[[[0,-70],[10,-70],[10,-80],[0,-70]],[[0,0],[1,0],[1,1],[0,0]]],
			  "objects":{"land":{"type":"MultiPolygon","arcs":[[[0]],[[1]]]}}}`,
			"M180 90l1 0 0-1z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := landPath([]byte(tc.topo))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("path = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLandPathErrors(t *testing.T) {
	tests := []struct{ name, topo, want string }{
		{"not json", `{`, "read topojson"},
		{"not a topology", `{"type":"FeatureCollection"}`, "want Topology"},
		{"no land", `{"type":"Topology","objects":{"countries":{}}}`, `no object "land"`},
		{"lines", `{"type":"Topology","objects":{"land":{"type":"LineString","arcs":[0]}}}`, "want polygons"},
		{"arc out of range", `{"type":"Topology","arcs":[],"objects":{"land":{"type":"Polygon","arcs":[[3]]}}}`, "arc 3 of 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := landPath([]byte(tc.topo))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
