package health

import "testing"

func TestHysteresis(t *testing.T) {
	// results: o success, x failure; want: the state after each (? unknown, U up, D down)
	tests := []struct {
		name          string
		rise, fall    int
		results, want string
	}{
		{"first rise successes bring it up", 2, 3, "ooo", "?UU"},
		{"first fall failures take it down", 2, 3, "xxxx", "??DD"},
		{"up until fall failures in a row", 2, 3, "ooxxoxxx", "?UUUUUUD"},
		{"down until rise successes in a row", 2, 3, "xxxoxoo", "??DDDDU"},
		{"alternating never decides", 2, 2, "oxoxox", "??????"},
		{"rise 1 fall 1 follows every result", 1, 1, "oxxo", "UDDU"},
		{"long runs", 3, 2, "oooooxxxxooo", "??UUUUDDDDDU"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h hysteresis
			got := make([]byte, len(tc.results))
			for i, r := range []byte(tc.results) {
				h.observe(r == 'o', tc.rise, tc.fall)
				got[i] = "?UD"[h.state]
			}
			if string(got) != tc.want {
				t.Errorf("states after %s = %s, want %s", tc.results, got, tc.want)
			}
		})
	}
}
