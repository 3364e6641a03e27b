package health

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"
)

// Defaults for a Monitor whose fields are zero. They mirror config's, so a Monitor built by
// hand (tests, the API) probes as one loaded from a file would.
const (
	defaultInterval = 5 * time.Second
	defaultRise     = 2
	defaultFall     = 3
	defaultMaxBody  = 64 << 10
	maxReply        = 64 << 10 // bytes of a tcp reply searched for Expect
)

// Probers returns a prober for every monitor kind: http, https, tcp and dns.
func Probers() map[string]Prober {
	h := NewHTTP(HTTPOptions{})
	return map[string]Prober{"http": h, "https": h, "tcp": NewTCP(), "dns": NewDNS()}
}

func intervalOf(m *Monitor) time.Duration {
	if m.Interval > 0 {
		return m.Interval
	}
	return defaultInterval
}

// timeoutOf is a probe's deadline: the monitor's timeout, else half the interval, at most 5s.
func timeoutOf(m *Monitor) time.Duration {
	if m.Timeout > 0 {
		return m.Timeout
	}
	return min(intervalOf(m)/2, 5*time.Second)
}

func riseOf(m *Monitor) int {
	if m.Rise > 0 {
		return m.Rise
	}
	return defaultRise
}

func fallOf(m *Monitor) int {
	if m.Fall > 0 {
		return m.Fall
	}
	return defaultFall
}

// result completes a probe that started at start: OK when err is nil, else with err's short
// text. ctx is the probe's own context, whose deadline is timeout.
func result(ctx context.Context, start time.Time, timeout time.Duration, err error) Result {
	r := Result{OK: err == nil, RTT: time.Since(start), At: start}
	if err != nil {
		r.Err = errText(ctx, err, timeout)
	}
	return r
}

// errText shortens what the net, http and tls packages return to what an operator needs:
// "connect: connection refused", "timeout after 1s", "certificate: x509: …".
func errText(ctx context.Context, err error, timeout time.Duration) string {
	var f failure
	if errors.As(err, &f) {
		return string(f)
	}
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return "canceled"
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("timeout after %v", timeout)
	}
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		return "certificate: " + cv.Err.Error()
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error() // the syscall and its errno: "connect: connection refused"
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "connection closed by the target"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// failure is a probe's verdict on what the target answered, as opposed to an error on the
// way: its text is the Result's Err as it stands.
type failure string

func (f failure) Error() string { return string(f) }

func failf(format string, a ...any) error { return failure(fmt.Sprintf(format, a...)) }

// abortOnCancel makes c's blocked reads and writes return when ctx ends, so a probe in flight
// stops as soon as the scheduler does. Call the returned func when done with c.
func abortOnCancel(ctx context.Context, c net.Conn) (stop func() bool) {
	return context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
}
