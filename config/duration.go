package config

import (
	"fmt"
	"strings"
	"time"
)

// maxTTL is the largest TTL a record may carry (RFC 2181 §8).
const maxTTL = 1<<31 - 1

// parseSeconds reads a duration as parseDuration does and returns whole seconds.
func parseSeconds(s string) (int64, error) {
	d, err := parseDuration(s)
	if err != nil {
		return 0, err
	}
	if d%time.Second != 0 {
		return 0, fmt.Errorf("%q is not a whole number of seconds", s)
	}
	return int64(d / time.Second), nil
}

// parseDuration reads a duration written as Go's time.ParseDuration does, plus "d" (24h) and
// "w" (7d) units.
func parseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration such as \"300s\", \"5m\", \"1h30m\", \"1d\"", s)
	if s == "" {
		return 0, bad
	}
	var total time.Duration
	rest := s
	// Peel off leading "<n>w" and "<n>d" terms, which time.ParseDuration does not know.
	for _, unit := range []struct {
		suffix string
		d      time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}} {
		i := strings.Index(rest, unit.suffix)
		if i <= 0 {
			continue
		}
		var n int64
		if _, err := fmt.Sscanf(rest[:i], "%d", &n); err != nil || fmt.Sprint(n) != rest[:i] || n < 0 {
			return 0, bad
		}
		total += time.Duration(n) * unit.d
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, bad
		}
		total += d
	}
	if total < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return total, nil
}
