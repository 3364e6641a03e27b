package health

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		expiry := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
		probers := map[string]Prober{
			"https": funcProber(func(context.Context, Target) Result {
				time.Sleep(20 * time.Millisecond)
				return Result{OK: true, CertExpiry: expiry}
			}),
			"tcp": funcProber(func(context.Context, Target) Result { return Result{Err: "connect: connection refused"} }),
		}
		web := Target{ID: "web/10.0.0.1", Monitor: &Monitor{Kind: "https", Interval: time.Second}}
		raw := Target{ID: "raw/10.0.0.2", Monitor: &Monitor{Kind: "tcp", Interval: time.Second}}
		reg := prometheus.NewPedanticRegistry()
		sink := &recSink{}
		s := NewScheduler("n", []Target{web, raw}, probers, sink, SchedulerOptions{Registerer: reg})
		stop := startScheduler(t, s)
		waitObs(sink, web.ID, 3)
		waitObs(sink, raw.ID, 3)
		stop()

		problems, err := testutil.CollectAndLint(reg)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("lint %s: %s", p.Metric, p.Text)
		}
		want := `
# HELP meridian_health_tls_cert_expiry_timestamp_seconds NotAfter of the certificate an https target presented at its latest probe, as a Unix time.
# TYPE meridian_health_tls_cert_expiry_timestamp_seconds gauge
meridian_health_tls_cert_expiry_timestamp_seconds{target="web/10.0.0.1"} 1.925089445e+09
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "meridian_health_tls_cert_expiry_timestamp_seconds"); err != nil {
			t.Error(err)
		}
		for _, c := range []struct {
			kind, result string
			min          float64
		}{{"https", "ok", 3}, {"https", "fail", 0}, {"tcp", "fail", 3}, {"tcp", "ok", 0}} {
			got := testutil.ToFloat64(s.met.probes.WithLabelValues(c.kind, c.result))
			if got < c.min || c.min == 0 && got != 0 {
				t.Errorf("probes_total{kind=%q,result=%q} = %v, want %v", c.kind, c.result, got, map[bool]string{true: "0", false: ">= 3"}[c.min == 0])
			}
		}
		if n := testutil.CollectAndCount(reg, "meridian_health_probe_duration_seconds", "meridian_health_schedule_lag_seconds"); n != 3 {
			t.Errorf("%d duration and lag series, want 3 (https, tcp, lag)", n)
		}

		s.Replace([]Target{raw}) // the https target goes, and its certificate series with it
		if n := testutil.CollectAndCount(reg, "meridian_health_tls_cert_expiry_timestamp_seconds"); n != 0 {
			t.Errorf("%d certificate series after the target left, want 0", n)
		}
	})
}
