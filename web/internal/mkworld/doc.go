// Command mkworld writes the dashboard's world outline: Natural Earth's 110 m land (public
// domain), as the npm package world-atlas ships it in TopoJSON, turned into one SVG path in the
// map's equirectangular coordinates (x = lon + 180, y = 90 − lat, a 360 × 180 box).
//
//	go run ./web/internal/mkworld -o web/static/world.svg-path   # npm pack world-atlas@2.0.2
//	go run ./web/internal/mkworld -cache .cache/world-atlas -o …  # the tarball kept for next time
//	go run ./web/internal/mkworld -in land-110m.json -o out      # a local copy, no network
//
// `make worldmap` runs it (build, run and test depend on it). The repository never holds the
// data or the path: web/static/world.svg-path is gitignored, and without it the dashboard's map
// is a bare grid.
package main
