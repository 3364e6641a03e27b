package config

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// TSIGKey is one [tsig.NAME] table: a secret shared with secondaries for transaction
// signatures (RFC 8945). The secret stays in its file, which the DNS handler reads.
type TSIGKey struct {
	// Name is the key's name on the wire: the table's name, fully qualified and lower-case.
	Name string
	// Algorithm in miekg/dns form: "hmac-sha256." (default), "hmac-sha384." or "hmac-sha512.".
	Algorithm string
	// SecretFile holds the secret in base64, as `tsig-keygen` and `openssl rand -base64 32`
	// print it. Resolved beside the config file; checked at load.
	SecretFile string
	Line       int
}

// Transfer is a zone's [zones."origin".transfer] table: who may copy the zone (AXFR, IXFR
// answered in full) and whom to tell when it changes (NOTIFY).
type Transfer struct {
	// Allow are the networks a transfer may come from; with TSIGKey it must be signed too.
	Allow []netip.Prefix
	// TSIGKey names the [tsig] key (its Name) transfers must be signed with and NOTIFYs are
	// signed with; "": none.
	TSIGKey string
	// Notify are the secondaries sent a NOTIFY (RFC 1996) when the zone's serial changes.
	Notify []netip.AddrPort
}

// tsigAlgorithms are the HMACs a key may use, by their configured names.
var tsigAlgorithms = map[string]string{
	"hmac-sha256": dns.HmacSHA256,
	"hmac-sha384": dns.HmacSHA384,
	"hmac-sha512": dns.HmacSHA512,
}

// decodeTSIG reads the [tsig] table: one key per entry, sorted by Name.
func decodeTSIG(o *obj, file string) []TSIGKey {
	if o == nil {
		return nil
	}
	defer o.Done()
	var out []TSIGKey
	o.Each(func(name string, ko *obj) {
		defer ko.Done()
		k := TSIGKey{Name: dns.Fqdn(strings.ToLower(name)), Line: ko.pos.line}
		if _, ok := dns.IsDomainName(k.Name); !ok || name == "" {
			o.d.add(ko.pos, ko.path, fmt.Sprintf("%q is not a valid key name (a domain name, as in the secondary's config)", name))
		}
		alg, _ := ko.Word("algorithm", "hmac-sha256", "hmac-sha256", "hmac-sha384", "hmac-sha512")
		k.Algorithm = tsigAlgorithms[alg]
		p, v := ko.String("secret_file", "")
		if v == nil || p == "" {
			ko.problem(v, "secret_file", "is required: a file holding the base64 secret (openssl rand -base64 32 > %s.secret)", strings.TrimSuffix(k.Name, "."))
		} else {
			k.SecretFile = resolvePath(p, file)
			if _, err := ReadTSIGSecret(k.SecretFile); err != nil {
				ko.problem(v, "secret_file", "%v", err)
			}
		}
		out = append(out, k)
	})
	slices.SortFunc(out, func(a, b TSIGKey) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// ReadTSIGSecret reads a TSIG secret file: base64 of at least 16 bytes, trimmed. It returns
// the base64 text, as miekg/dns takes it.
func ReadTSIGSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %v", path, unwrapPathError(err))
	}
	s := strings.TrimSpace(string(b))
	raw, err := base64.StdEncoding.DecodeString(s)
	switch {
	case err != nil:
		return "", fmt.Errorf("%s: not a base64 secret (make one: openssl rand -base64 32)", path)
	case len(raw) < 16:
		return "", fmt.Errorf("%s: the secret is %d bytes, want at least 16 (make one: openssl rand -base64 32)", path, len(raw))
	}
	return s, nil
}

// decodeTransfer reads a zone's [zones."origin".transfer] table; nil when it has none.
func decodeTransfer(o *obj, z Zone, keys []TSIGKey) *Transfer {
	if o == nil {
		return nil
	}
	defer o.Done()
	t := &Transfer{}
	nets, vals, av := o.Strings("allow")
	for i, s := range nets {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				o.problem(vals[i], fmt.Sprintf("allow[%d]", i), "%q is not a CIDR such as \"192.0.2.53/32\" or \"2001:db8::/64\", or an address", s)
				continue
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		t.Allow = append(t.Allow, p.Masked())
	}
	if len(nets) == 0 && (av == nil || len(vals) == len(nets)) {
		o.problem(av, "allow", "at least one network is needed: the secondaries' addresses (e.g. allow = [\"192.0.2.53/32\"]; with tsig_key, [\"0.0.0.0/0\", \"::/0\"] takes any source that signs)")
	}
	if name, v := o.String("tsig_key", ""); v != nil {
		fq := dns.Fqdn(strings.ToLower(name))
		var defined []string
		for _, k := range keys {
			defined = append(defined, strings.TrimSuffix(k.Name, "."))
		}
		switch {
		case name == "":
			o.problem(v, "tsig_key", "must name a [tsig] key; leave the key out for unsigned transfers")
		case !slices.ContainsFunc(keys, func(k TSIGKey) bool { return k.Name == fq }):
			msg := "no such key: define it as [tsig." + quoteKey(strings.TrimSuffix(fq, ".")) + "]"
			if len(defined) > 0 {
				msg += " (defined: " + strings.Join(defined, ", ") + ")"
			}
			o.problem(v, "tsig_key", "%s", msg)
		default:
			t.TSIGKey = fq
		}
	}
	addrs, avals, _ := o.Strings("notify")
	for i, s := range addrs {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				o.problem(avals[i], fmt.Sprintf("notify[%d]", i), "%q is not an address or ip:port (e.g. \"192.0.2.53\", \"192.0.2.53:53\", \"[2001:db8::53]:53\")", s)
				continue
			}
			ap = netip.AddrPortFrom(a, 53)
		}
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		switch {
		case ap.Addr().IsUnspecified() || ap.Port() == 0:
			o.problem(avals[i], fmt.Sprintf("notify[%d]", i), "%s: a secondary's concrete address and port are needed", ap)
			continue
		case slices.Contains(t.Notify, ap):
			o.problem(avals[i], fmt.Sprintf("notify[%d]", i), "%s is listed twice", ap)
			continue
		}
		t.Notify = append(t.Notify, ap)
	}
	if z.DNSSEC != nil {
		o.problem(nil, "", "zone %s is signed online (its dnssec table): a secondary would get it without signatures and serve it bogus; transfer an unsigned zone, or give the secondaries no copy", z.Origin)
	}
	return t
}

// checkTSIGUsed reports every [tsig] key no zone's transfer names: a key that does nothing.
// Only for a config without other problems.
func checkTSIGUsed(d *decoder, keys []TSIGKey, zones []Zone) {
	if len(d.probs) > 0 {
		return // a zone that did not decode may be the one naming the key
	}
	for _, k := range keys {
		if !slices.ContainsFunc(zones, func(z Zone) bool { return z.Transfer != nil && z.Transfer.TSIGKey == k.Name }) {
			name := strings.TrimSuffix(k.Name, ".")
			d.add(pos{line: k.Line}, joinPath("tsig", name), fmt.Sprintf("no zone's transfer uses this key (tsig_key = %q in a [zones.\"<origin>\".transfer] table)", name))
		}
	}
}
