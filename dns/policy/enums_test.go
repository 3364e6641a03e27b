package policy

import (
	"fmt"
	"testing"
)

func TestParseWords(t *testing.T) {
	tests := []struct {
		word    string
		parse   func(string) (fmt.Stringer, error)
		wantErr string
	}{
		{"failover", parseOrder, ""},
		{"geo", parseOrder, ""},
		{"proximity", parseOrder, ""},
		{"latency", parseOrder, ""},
		{"weighted", parseSelect, ""},
		{"random", parseSelect, ""},
		{"hash", parseSelect, ""},
		{"all", parseAllDown, ""},
		{"fallback", parseAllDown, ""},
		{"nodata", parseAllDown, ""},
		{"servfail", parseAllDown, ""},
		{"Geo", parseOrder, `unknown policy "Geo" (want failover, geo, proximity or latency)`},
		{"roundrobin", parseSelect, `unknown select "roundrobin" (want weighted, random or hash)`},
		{"", parseAllDown, `unknown on_all_down "" (want all, fallback, nodata or servfail)`},
	}
	for _, tc := range tests {
		t.Run(tc.word, func(t *testing.T) {
			v, err := tc.parse(tc.word)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("got error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if got := v.String(); got != tc.word {
				t.Errorf("got %q back, want %q", got, tc.word)
			}
		})
	}
}

func parseOrder(s string) (fmt.Stringer, error)   { return ParseOrder(s) }
func parseSelect(s string) (fmt.Stringer, error)  { return ParseSelect(s) }
func parseAllDown(s string) (fmt.Stringer, error) { return ParseAllDown(s) }

func TestStrings(t *testing.T) {
	tests := []struct {
		v    fmt.Stringer
		want string
	}{
		{Answer, "answer"},
		{NoData, "nodata"},
		{ServFail, "servfail"},
		{Nothing, "nothing"},
		{OnLocation, "location"},
		{OnSubnet, "subnet"},
		{Order(9), "order(9)"},
		{Outcome(7), "outcome(7)"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.v.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
