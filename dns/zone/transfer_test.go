package zone

import (
	"slices"
	"testing"

	"github.com/miekg/dns"
)

func TestRecords(t *testing.T) {
	z := testSet(t).Find("example.test.")
	var got []string
	for _, rr := range z.Records() {
		got = append(got, rr.Header().Name+" "+dns.TypeToString[rr.Header().Rrtype])
	}
	want := []string{
		"example.test. NS",
		"a.example.test. NS", "b.a.example.test. A", "ns.a.example.test. A", // a cut and its glue
		"alias.example.test. CNAME",
		"lb.example.test. TXT", // a service's static types; its addresses are the caller's
		"loop1.example.test. CNAME", "loop2.example.test. CNAME",
		"ns1.example.test. A",
		"*.w.example.test. CNAME",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Records =\n%v\nwant\n%v", got, want)
	}
}

func TestSetSerial(t *testing.T) {
	z := testSet(t).Find("example.test.")
	z.SetSerial(42)
	res := z.Lookup("example.test.", dns.TypeSOA)
	if len(res.Answer) != 1 || res.Answer[0].(*dns.SOA).Serial != 42 || z.NegativeSOA().(*dns.SOA).Serial != 42 {
		t.Errorf("SOA after SetSerial(42) = %v, negative %v", res.Answer, z.NegativeSOA())
	}
}
