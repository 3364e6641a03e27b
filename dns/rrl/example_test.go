package rrl_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/meridian-gslb/meridian/dns/rrl"
)

func ExampleLimiter() {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l, err := rrl.New(rrl.Options{
		ResponsesPerSecond: 2,
		Window:             5 * time.Second,
		Slip:               rrl.DefaultSlip,
		Now:                func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	client := netip.MustParseAddr("192.0.2.1")
	qname := []byte("\x03www\x07example\x03com\x00")
	const typeA = 1

	// A burst of six identical responses: the credit of two is sent, then every other
	// limited response slips.
	var burst []any
	for range 6 {
		burst = append(burst, l.Decide(client, rrl.Answer, qname, typeA))
	}
	fmt.Println(burst...)

	// After the client goes quiet for the window, it is answered again.
	now = now.Add(5 * time.Second)
	fmt.Println(l.Decide(client, rrl.Answer, qname, typeA))

	st := l.Stats()
	fmt.Println(st.Sent, st.Dropped, st.Slipped)
	// Output:
	// send send drop slip drop slip
	// send
	// 3 2 2
}
