package dns

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns/policy"
	"github.com/meridian-gslb/meridian/dns/zone"
)

// xfrZone is one zone secondaries may copy, as one snapshot has it: who may, and what the
// copy holds. Immutable.
type xfrZone struct {
	origin string
	soa    *dns.SOA // the zone's SOA, serial settled (settleSerial)
	// rrs are the records between the two SOAs of a transfer: the static ones, then each
	// load-balanced name's all-up answer (policy.AllUp) with the service's TTL.
	rrs    []dns.RR
	digest [sha256.Size]byte // of the SOA but its serial and of rrs: tells a reload that changes them
	allow  []netip.Prefix
	key    *tsigKey // nil: transfers unsigned
	notify []netip.AddrPort
}

// tsigKey is a [tsig] key with its secret read.
type tsigKey struct {
	name, alg string
	secret    string // base64, as miekg/dns takes it
}

// tsigKeys reads every [tsig] key's secret, by key name.
func tsigKeys(cfg *config.Config) (map[string]*tsigKey, error) {
	keys := make(map[string]*tsigKey, len(cfg.TSIG))
	for _, k := range cfg.TSIG {
		secret, err := config.ReadTSIGSecret(k.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("tsig key %s: %w", k.Name, err)
		}
		keys[k.Name] = &tsigKey{name: k.Name, alg: k.Algorithm, secret: secret}
	}
	return keys, nil
}

// transfers builds the transferable zones of cfg and settles their serials against running
// (the serving snapshot's, nil at start). It returns them by origin, and those whose serial
// is new — the ones secondaries must be told of once this snapshot serves.
func transfers(cfg *config.Config, zs *zone.Set, services map[string]*service, keys map[string]*tsigKey,
	running map[string]*xfrZone, log *slog.Logger) (map[string]*xfrZone, []*xfrZone) {
	out := map[string]*xfrZone{}
	var changed []*xfrZone
	for i := range cfg.Zones {
		zc := &cfg.Zones[i]
		z := zs.Find(zc.Origin)
		if zc.Transfer == nil || z == nil || z.Origin != zc.Origin {
			continue
		}
		x := &xfrZone{origin: zc.Origin, soa: z.SOA, allow: zc.Transfer.Allow, notify: zc.Transfer.Notify, key: keys[zc.Transfer.TSIGKey]}
		x.rrs = append(z.Records(), allUpRecords(zc.Services, services)...)
		x.digest = digest(z.SOA, x.rrs)
		prev := running[zc.Origin]
		serial, raised := settleSerial(zc, prev, x.digest, cfg.Cluster != nil)
		if raised && !zc.SOA.SerialDefault {
			log.Warn("zone content changed but soa.serial did not increase: serving a higher serial so secondaries copy it; raise soa.serial in the file, or a restart goes back to the lower one",
				"zone", zc.Origin, "configured", zc.SOA.Serial, "serial", serial)
		}
		z.SetSerial(serial)
		if prev == nil || prev.soa.Serial != serial {
			changed = append(changed, x)
		}
		out[zc.Origin] = x
	}
	return out, changed
}

// settleSerial is the serial a zone with secondaries serves, and whether it is above the
// configured one because the content changed. A change of content always raises the serial
// (RFC 1982 arithmetic): to the configured serial when that is later than the one served, else
// to the one served plus one (registered endpoints change a service's all-up answer with no
// change of the file, and a file may keep its serial). Unchanged content keeps the serial
// served when it is the default load time, so a reload that changes nothing makes no transfer;
// a configured serial, or in a cluster the revision, is taken as it is, unless it would go
// back. The serial never goes back while the process runs.
func settleSerial(zc *config.Zone, prev *xfrZone, d [sha256.Size]byte, cluster bool) (serial uint32, raised bool) {
	serial = zc.SOA.Serial
	switch {
	case prev == nil:
	case d == prev.digest && zc.SOA.SerialDefault && !cluster:
		serial = prev.soa.Serial
	case d == prev.digest:
		if serialAfter(prev.soa.Serial, serial) {
			serial = prev.soa.Serial
		}
	case !serialAfter(serial, prev.soa.Serial):
		serial, raised = prev.soa.Serial+1, true
	}
	return serial, raised
}

// serialAfter says whether serial a is later than b (RFC 1982 §3.2).
func serialAfter(a, b uint32) bool { return a != b && int32(a-b) > 0 }

// allUpRecords are the A and AAAA records of each load-balanced name as a transfer carries
// them: every address its policy would choose among were every endpoint up (policy.AllUp).
func allUpRecords(cs []config.Service, services map[string]*service) []dns.RR {
	var out []dns.RR
	for _, c := range cs {
		svc := services[c.Name]
		if svc == nil {
			continue
		}
		for _, fam := range []int{4, 6} {
			for _, a := range policy.AllUp(svc.p, fam) {
				hdr := dns.RR_Header{Name: svc.name, Class: dns.ClassINET, Ttl: svc.ttl}
				if fam == 4 {
					hdr.Rrtype = dns.TypeA
					out = append(out, &dns.A{Hdr: hdr, A: a.AsSlice()})
				} else {
					hdr.Rrtype = dns.TypeAAAA
					out = append(out, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
				}
			}
		}
	}
	return out
}

// digest hashes what a transfer carries but the serial.
func digest(soa *dns.SOA, rrs []dns.RR) [sha256.Size]byte {
	h := sha256.New()
	s := *soa
	s.Serial = 0
	fmt.Fprintln(h, s.String())
	for _, rr := range rrs {
		fmt.Fprintln(h, strings.ToLower(rr.String()))
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}
