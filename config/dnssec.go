package config

import (
	"fmt"
	"time"

	"github.com/meridian-gslb/meridian/dns/dnssec"
)

// decodeDNSSEC reads a zone's [zones."origin".dnssec] table and reads every key it names, so a
// missing, unreadable or mismatched key is a config problem at its line, never a surprise at
// serving time. nil when the zone has no such table.
func decodeDNSSEC(o *obj, z Zone, file string) *DNSSEC {
	if o == nil {
		return nil
	}
	defer o.Done()
	d := &DNSSEC{}
	d.Validity, _ = o.Duration("validity", dnssec.DefaultValidity, time.Hour, 366*24*time.Hour)
	d.Backdate, _ = o.Duration("backdate", dnssec.DefaultBackdate, 0, 7*24*time.Hour)
	refresh, rv := o.Duration("refresh", dnssec.DefaultRefresh, time.Minute, 366*24*time.Hour)
	d.Refresh = refresh
	d.DNSKEYTTL, _ = o.Seconds("dnskey_ttl", z.TTL)
	if refresh >= d.Validity {
		o.problem(rv, "refresh", "%v is not below the validity %v: every signature would be made anew at once", refresh, d.Validity)
	}
	if longest := longestTTL(z, d.DNSKEYTTL); time.Duration(longest)*time.Second >= refresh {
		o.problem(rv, "refresh", "%v is not above the zone's longest TTL (%ds): a resolver could hold an answer past its signature's expiry", refresh, longest)
	}
	tags := map[uint16]string{}
	read := func(key string, private bool) []string {
		bases, vals, v := o.Strings(key)
		var out []string
		for i, b := range bases {
			base := resolvePath(b, file)
			k, err := dnssec.Read(base, z.Origin, private)
			if err != nil {
				o.problem(vals[i], fmt.Sprintf("%s[%d]", key, i), "%v (make a key with: meridian dnssec keygen %s)", unwrapPathError(err), z.Origin)
				continue
			}
			if prev, dup := tags[k.Tag]; dup {
				o.problem(vals[i], fmt.Sprintf("%s[%d]", key, i), "key tag %d is also %s's; generate another key", k.Tag, prev)
				continue
			}
			tags[k.Tag] = base
			out = append(out, base)
		}
		if key == "keys" && len(bases) == 0 && (v == nil || len(vals) == len(bases)) {
			o.problem(v, "keys", "at least one signing key is needed (meridian dnssec keygen %s prints one to add)", z.Origin)
		}
		return out
	}
	d.Keys = read("keys", true)
	d.Publish = read("publish", false)
	return d
}

// longestTTL is the largest TTL the zone hands out.
func longestTTL(z Zone, dnskeyTTL uint32) uint32 {
	longest := max(z.TTL, z.NSTTL, z.SOA.TTL, dnskeyTTL)
	for _, r := range z.Records {
		longest = max(longest, r.TTL)
	}
	for _, s := range z.Services {
		longest = max(longest, s.TTL)
	}
	return longest
}
