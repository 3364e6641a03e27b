package dnssec

import (
	"slices"

	"github.com/miekg/dns"
)

// TypeNXNAME is the meta-type in a compact denial's NSEC bitmap that says the name does not
// exist (RFC 9824 §2). An explicit query for it is a format error (§3.5).
const TypeNXNAME = 128

// FlagCO is the EDNS "Compact Answers OK" header flag (RFC 9824 §4): a resolver that sets it
// takes NXDOMAIN with a compact denial.
const FlagCO = 0x4000

// NSEC is the compact denial at owner: the next name is owner's immediate successor
// (\000.owner), so the record covers nothing but owner itself, and the bitmap holds types (the
// types owner has; TypeNXNAME for a name that does not exist) plus RRSIG and NSEC. ttl should
// be the zone's negative TTL (RFC 9077).
func NSEC(owner string, types []uint16, ttl uint32) *dns.NSEC {
	bitmap := append(slices.Clone(types), dns.TypeRRSIG, dns.TypeNSEC)
	slices.Sort(bitmap)
	return &dns.NSEC{
		Hdr:        dns.RR_Header{Name: owner, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
		NextDomain: `\000.` + owner,
		TypeBitMap: slices.Compact(bitmap),
	}
}
