package health

// State is an endpoint's health as the policies see it.
type State uint8

const (
	// Unknown: never observed (no monitor yet, or a cold start before the first result).
	// Policies treat it as up, so a name with no health checks, or one whose endpoints have
	// not been probed yet, keeps answering.
	Unknown State = iota
	Up
	Down
)

func (s State) String() string {
	switch s {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "unknown"
}

// Serving reports whether an endpoint in state s may be answered.
func (s State) Serving() bool { return s != Down }

// ParseState is the State whose String is s; anything else is Unknown.
func ParseState(s string) State {
	switch s {
	case "up":
		return Up
	case "down":
		return Down
	}
	return Unknown
}
