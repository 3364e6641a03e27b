package dns

import (
	"crypto/sha256"
	"testing"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/config"
)

func TestSettleSerial(t *testing.T) {
	same, other := [sha256.Size]byte{1}, [sha256.Size]byte{2}
	prev := &xfrZone{soa: &dns.SOA{Serial: 100}, digest: same}
	wrap := &xfrZone{soa: &dns.SOA{Serial: 1<<32 - 1}, digest: same}
	tests := []struct {
		name       string
		serial     uint32
		def        bool // the file set no serial
		cluster    bool
		prev       *xfrZone
		digest     [sha256.Size]byte
		want       uint32
		wantRaised bool
	}{
		{"first load takes the configured serial", 7, false, false, nil, same, 7, false},
		{"unchanged default keeps the served serial", 200, true, false, prev, same, 100, false},
		{"unchanged in a cluster takes the revision", 200, true, true, prev, same, 200, false},
		{"unchanged configured serial is taken", 150, false, false, prev, same, 150, false},
		{"unchanged configured serial never goes back", 90, false, false, prev, same, 100, false},
		{"changed with a later serial takes it", 200, true, false, prev, other, 200, false},
		{"changed within the same second", 100, true, false, prev, other, 101, true},
		{"changed with a configured serial kept", 100, false, false, prev, other, 101, true},
		{"changed with a configured serial lowered", 50, false, false, prev, other, 101, true},
		{"changed across the wrap (RFC 1982)", 5, false, false, wrap, other, 5, false},
		{"changed at the wrap, serial kept", 1<<32 - 1, false, false, wrap, other, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			zc := &config.Zone{SOA: config.SOA{Serial: tc.serial, SerialDefault: tc.def}}
			got, raised := settleSerial(zc, tc.prev, tc.digest, tc.cluster)
			if got != tc.want || raised != tc.wantRaised {
				t.Errorf("settleSerial = %d, raised %v; want %d, %v", got, raised, tc.want, tc.wantRaised)
			}
		})
	}
}
