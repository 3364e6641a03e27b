package geo

import "testing"

func TestContinentOf(t *testing.T) {
	tests := []struct{ country, want string }{
		{"DE", "EU"}, {"GB", "EU"}, {"RU", "EU"}, {"CY", "EU"}, {"XK", "EU"},
		{"US", "NA"}, {"MX", "NA"}, {"PA", "NA"}, {"PR", "NA"}, {"GL", "NA"},
		{"BR", "SA"}, {"FK", "SA"},
		{"JP", "AS"}, {"TR", "AS"}, {"GE", "AS"}, {"IO", "AS"},
		{"ZA", "AF"}, {"EG", "AF"}, {"RE", "AF"},
		{"AU", "OC"}, {"TL", "OC"}, {"CX", "OC"}, {"UM", "OC"},
		{"AQ", "AN"}, {"TF", "AN"},
		{"", ""}, {"ZZ", ""}, {"de", ""}, {"EU", ""},
	}
	for _, tc := range tests {
		if got := continentOf(tc.country); got != tc.want {
			t.Errorf("continentOf(%q) = %q, want %q", tc.country, got, tc.want)
		}
	}
}
