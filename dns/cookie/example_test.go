package cookie_test

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/meridian-gslb/meridian/dns/cookie"
)

// A server answering the query of RFC 9018 Appendix A.1: the COOKIE option
// holds only a client cookie, so the reply carries it and a fresh server
// cookie.
func Example() {
	secret, err := cookie.ParseSecret([]byte("e5e973e5a6b2a43f48e7dc849e37bfcf\n"))
	if err != nil {
		panic(err)
	}
	now := func() time.Time { return time.Unix(1559731985, 0) }
	jar := cookie.NewJar(secret, nil, now)

	from := netip.MustParseAddr("198.51.100.100")
	opt := []byte{0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57}

	client, v, refresh := jar.Check(opt, from)
	fmt.Println(v, refresh)
	if v == cookie.Malformed {
		return // reply FORMERR
	}
	if v != cookie.Good || refresh {
		reply := jar.Make(client[:], client, from)
		fmt.Printf("%x\n", reply)
	}
	// Output:
	// ClientOnly false
	// 2464c4abcf10c957010000005cf79f111f8130c3eee29480
}
