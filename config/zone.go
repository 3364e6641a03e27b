package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// recordTypes are the static record types a zone may hold.
var recordTypes = []string{"A", "AAAA", "CNAME", "MX", "TXT", "SRV", "CAA", "PTR", "NS", "DS"}

// decodeZone reads one [zones."origin"] table.
func decodeZone(o *obj, key string, loadedAt time.Time, g *gslb, file string, keys []TSIGKey) (Zone, bool) {
	z := Zone{Origin: dns.Fqdn(strings.ToLower(key))}
	valid := true
	if _, ok := dns.IsDomainName(z.Origin); !ok || key == "" {
		o.d.add(o.pos, o.path, fmt.Sprintf("%q is not a valid zone name", key))
		valid = false
		z.Origin = "invalid." // keep decoding the table to report its other problems
	}
	z.TTL, _ = o.Seconds("ttl", 300)
	names, vals, nsv := o.Strings("ns")
	for i, n := range names {
		abs, ok := absName(n, z.Origin)
		if !ok {
			o.problem(vals[i], fmt.Sprintf("ns[%d]", i), "%q is not a valid name server name", n)
			continue
		}
		z.NS = append(z.NS, abs)
	}
	if len(names) == 0 && (nsv == nil || nsv.kind == kArray) {
		o.problem(nsv, "ns", "at least one name server is needed (e.g. ns = [\"ns1\", \"ns2\"])")
	}
	z.NSTTL, _ = o.Seconds("ns_ttl", z.TTL)
	z.SOA = decodeSOA(o, z, loadedAt)
	z.Records = decodeRecords(o, z)
	z.Services = decodeServices(o, z, g)
	checkServices(o, z)
	z.DNSSEC = decodeDNSSEC(o.Table("dnssec"), z, file)
	z.Transfer = decodeTransfer(o.Table("transfer"), z, keys)
	o.Done()
	return z, valid
}

func decodeSOA(zo *obj, z Zone, loadedAt time.Time) SOA {
	s := SOA{RName: "hostmaster." + z.Origin, Serial: uint32(loadedAt.Unix()), SerialDefault: true, Refresh: 3600, Retry: 600, Expire: 604800, Minimum: 60, TTL: z.TTL}
	if len(z.NS) > 0 {
		s.MName = z.NS[0]
	}
	o := zo.Table("soa")
	if o == nil {
		return s
	}
	if m, v := o.String("mname", ""); v != nil {
		if abs, ok := absName(m, z.Origin); ok {
			s.MName = abs
		} else {
			o.problem(v, "mname", "%q is not a valid name", m)
		}
	}
	if r, v := o.String("rname", ""); v != nil {
		if abs, ok := rname(r, z.Origin); ok {
			s.RName = abs
		} else {
			o.problem(v, "rname", "%q is not a mailbox such as \"hostmaster\" or \"hostmaster@example.com\"", r)
		}
	}
	serial, sv := o.Int("serial", int64(s.Serial), 0, 1<<32-1)
	s.Serial, s.SerialDefault = uint32(serial), sv == nil
	s.Refresh, _ = o.Seconds("refresh", s.Refresh)
	s.Retry, _ = o.Seconds("retry", s.Retry)
	s.Expire, _ = o.Seconds("expire", s.Expire)
	s.Minimum, _ = o.Seconds("minimum", s.Minimum)
	s.TTL, _ = o.Seconds("ttl", s.TTL)
	o.Done()
	return s
}

// absName makes a configured name absolute and lower-case: "@" is the origin, a trailing dot
// marks an absolute name, anything else is under the origin.
func absName(n, origin string) (string, bool) {
	switch {
	case n == "@":
		return origin, true
	case n == "":
		return "", false
	case !strings.HasSuffix(n, "."):
		n += "." + origin
	}
	n = strings.ToLower(n)
	_, ok := dns.IsDomainName(n)
	return n, ok
}

// rname turns "hostmaster", "hostmaster.example.com." or "first.last@example.com" into the SOA
// RNAME form, escaping dots in the local part.
func rname(r, origin string) (string, bool) {
	if local, domain, ok := strings.Cut(r, "@"); ok {
		if local == "" || domain == "" {
			return "", false
		}
		r = strings.ReplaceAll(local, ".", `\.`) + "." + dns.Fqdn(domain)
	}
	return absName(r, origin)
}

// record is a parsed record and where it was written, for the zone-wide checks.
type record struct {
	rr   dns.RR
	o    *obj
	name *value
}

func decodeRecords(zo *obj, z Zone) []Record {
	var recs []record
	for _, o := range zo.Tables("records") {
		if r, ok := decodeRecord(o, z); ok {
			recs = append(recs, r)
		}
	}
	checkRecords(zo, z, recs)
	out := make([]Record, len(recs))
	for i, r := range recs {
		h := r.rr.Header()
		out[i] = Record{Name: h.Name, Type: dns.TypeToString[h.Rrtype], TTL: h.Ttl, Text: r.rr.String(), Line: r.o.pos.line}
	}
	return out
}

func decodeRecord(o *obj, z Zone) (record, bool) {
	defer o.Done()
	name, nv := o.String("name", "")
	typ, tv := o.String("type", "")
	ttl, _ := o.Seconds("ttl", z.TTL)
	data, dv := o.String("data", "")
	ok := true
	for _, req := range []struct {
		key string
		v   *value
	}{{"name", nv}, {"type", tv}, {"data", dv}} {
		if req.v == nil && o.t.m[req.key] == nil {
			o.problem(nil, req.key, "is required")
			ok = false
		}
	}
	if !ok || nv == nil || tv == nil || dv == nil {
		return record{}, false
	}
	typ = strings.ToUpper(typ)
	if !slices.Contains(recordTypes, typ) {
		o.problem(tv, "type", "%q is not a supported record type (supported: %s)", typ, strings.Join(recordTypes, ", "))
		return record{}, false
	}
	owner, valid := absName(name, z.Origin)
	switch {
	case !valid:
		o.problem(nv, "name", "%q is not a valid name", name)
		return record{}, false
	case !dns.IsSubDomain(z.Origin, owner):
		o.problem(nv, "name", "%s is outside the zone %s", owner, z.Origin)
		return record{}, false
	}
	if labels := dns.SplitDomainName(owner); slices.Contains(labels[min(1, len(labels)):], "*") {
		o.problem(nv, "name", "a wildcard \"*\" may only be the leftmost label")
		return record{}, false
	}
	rr, err := parseRR(owner, ttl, typ, data, z.Origin)
	if err != nil {
		o.problem(dv, "data", "%v", err)
		return record{}, false
	}
	return record{rr: rr, o: o, name: nv}, true
}

// parseRR reads RDATA in zone-file form with miekg/dns, relative names under origin.
func parseRR(owner string, ttl uint32, typ, data, origin string) (dns.RR, error) {
	switch typ {
	case "A":
		if a, err := netip.ParseAddr(data); err != nil || !a.Is4() {
			return nil, fmt.Errorf("%q is not an IPv4 address", data)
		}
	case "AAAA":
		if a, err := netip.ParseAddr(data); err != nil || !a.Is6() || a.Is4In6() {
			return nil, fmt.Errorf("%q is not an IPv6 address", data)
		}
	case "TXT":
		if !strings.HasPrefix(strings.TrimSpace(data), `"`) {
			data = txtStrings(data)
		}
	}
	zp := dns.NewZoneParser(strings.NewReader(fmt.Sprintf("%s %d IN %s %s\n", owner, ttl, typ, data)), origin, "")
	rr, ok := zp.Next()
	if err := zp.Err(); err != nil {
		msg := strings.TrimPrefix(err.Error(), "dns: ")
		if i := strings.Index(msg, " at line: "); i >= 0 {
			msg = msg[:i]
		}
		return nil, fmt.Errorf("bad %s data %q: %s", typ, data, msg)
	}
	if !ok || rr == nil {
		return nil, fmt.Errorf("bad %s data %q", typ, data)
	}
	if _, more := zp.Next(); more {
		return nil, fmt.Errorf("bad %s data %q: more than one record", typ, data)
	}
	return rr, nil
}

// txtStrings quotes a plain value as TXT character-strings of at most 255 bytes each.
func txtStrings(s string) string {
	var parts []string
	for len(s) > 0 || len(parts) == 0 {
		n := min(len(s), 255)
		chunk := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s[:n])
		parts = append(parts, `"`+chunk+`"`)
		s = s[n:]
	}
	return strings.Join(parts, " ")
}

// checkRecords applies the zone-wide rules: no duplicates, CNAME alone at its name and not at
// the apex, apex NS only through the ns key, nothing but glue at or below a delegation, and
// glue for in-bailiwick delegation targets.
func checkRecords(zo *obj, z Zone, recs []record) {
	types := map[string][]uint16{}
	cuts := map[string]bool{}
	for _, r := range recs {
		h := r.rr.Header()
		types[h.Name] = append(types[h.Name], h.Rrtype)
		if h.Rrtype == dns.TypeNS && h.Name != z.Origin {
			cuts[h.Name] = true
		}
	}
	for i, r := range recs {
		h := r.rr.Header()
		at := func(format string, args ...any) { r.o.problem(r.name, "name", format, args...) }
		for _, prev := range recs[:i] {
			if dns.IsDuplicate(prev.rr, r.rr) {
				at("duplicate of the record on line %d", prev.o.pos.line)
			}
		}
		switch {
		case h.Rrtype == dns.TypeNS && h.Name == z.Origin:
			at("NS records at the apex come from the zone's ns key; use ns = [...]")
		case h.Rrtype == dns.TypeCNAME && h.Name == z.Origin:
			at("a CNAME cannot be at the zone apex (it would hide the SOA and NS)")
		case h.Rrtype == dns.TypeCNAME:
			for _, t := range types[h.Name] {
				if t != dns.TypeCNAME {
					at("CNAME at %s cannot coexist with %s", h.Name, dns.TypeToString[t])
					break
				}
			}
			if countOf(types[h.Name], dns.TypeCNAME) > 1 && i == firstOf(recs, h.Name, dns.TypeCNAME) {
				at("%s has more than one CNAME", h.Name)
			}
		}
		if h.Rrtype == dns.TypeDS && !cuts[h.Name] {
			at("a DS record belongs at a delegation (a name with NS records below the apex); %s has none", h.Name)
		}
		if h.Rrtype != dns.TypeA && h.Rrtype != dns.TypeAAAA && !((h.Rrtype == dns.TypeNS || h.Rrtype == dns.TypeDS) && cuts[h.Name]) {
			for cut := range cuts {
				if dns.IsSubDomain(cut, h.Name) {
					at("%s is at or below the delegation at %s and would never be served", h.Name, cut)
				}
			}
		}
		if ns, ok := r.rr.(*dns.NS); ok && cuts[h.Name] && dns.IsSubDomain(h.Name, ns.Ns) {
			if !slices.Contains(types[ns.Ns], dns.TypeA) && !slices.Contains(types[ns.Ns], dns.TypeAAAA) {
				r.o.problem(r.o.t.m["data"], "data", "delegation to %s needs glue: no A/AAAA record for %s", ns.Ns, ns.Ns)
			}
		}
	}
}

func firstOf(recs []record, name string, t uint16) int {
	return slices.IndexFunc(recs, func(r record) bool { return r.rr.Header().Name == name && r.rr.Header().Rrtype == t })
}

func countOf(ts []uint16, t uint16) int {
	n := 0
	for _, x := range ts {
		if x == t {
			n++
		}
	}
	return n
}
