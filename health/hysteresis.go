package health

// hysteresis is one target's rise/fall state machine. It starts Unknown; Rise consecutive
// successes make it Up and Fall consecutive failures make it Down, from Unknown as from the
// other state. The zero value is a target never probed.
type hysteresis struct {
	state     State
	successes int // consecutive, up to the latest result
	failures  int
}

// observe adds one probe result and returns the state before it.
func (h *hysteresis) observe(ok bool, rise, fall int) (prev State) {
	prev = h.state
	if ok {
		h.successes, h.failures = min(h.successes+1, rise), 0
		if h.successes >= rise {
			h.state = Up
		}
	} else {
		h.successes, h.failures = 0, min(h.failures+1, fall)
		if h.failures >= fall {
			h.state = Down
		}
	}
	return prev
}

// consecutive is the length of the current run of equal results (capped at rise or fall).
func (h *hysteresis) consecutive() int { return max(h.successes, h.failures) }
