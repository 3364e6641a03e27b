package web

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Version is the module version and VCS revision this binary was built from.
func Version() (version, revision string) {
	version, revision = "devel", "unknown"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		version = v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			revision = s.Value
		}
	}
	return
}

// RegisterBuildInfo exports meridian_build_info{version,revision,goversion} = 1.
func RegisterBuildInfo(reg prometheus.Registerer) {
	v, r := Version()
	promauto.With(reg).NewGauge(prometheus.GaugeOpts{
		Namespace: "meridian", Name: "build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": v, "revision": r, "goversion": runtime.Version()},
	}).Set(1)
}
