package config

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The GSLB model: [geo], [regions.NAME] and [pools.NAME]. Services live in their zones
// (service.go) and refer to pools by name.

var (
	continentCodes  = []string{"AF", "AN", "AS", "EU", "NA", "OC", "SA"}
	countryCode     = regexp.MustCompile(`^[A-Z]{2}$`)
	subdivisionCode = regexp.MustCompile(`^[A-Z]{2}-[A-Z0-9]{1,3}$`)
	poolName        = regexp.MustCompile(`^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$`)
)

func decodeGeo(o *obj, file string, regions []Region) Geo {
	g := Geo{Watch: 10}
	if o == nil {
		return g
	}
	defer o.Done()
	g.Watch, _ = o.Seconds("watch", 10)
	paths, vals, _ := o.Strings("databases")
	for i, p := range paths {
		p = resolvePath(p, file)
		if _, err := os.Stat(p); err != nil {
			o.problem(vals[i], fmt.Sprintf("databases[%d]", i), "cannot read %s: %v", p, unwrapPathError(err))
			continue
		}
		g.Databases = append(g.Databases, p)
	}
	if lat, v := o.String("latency", ""); v != nil && lat != "" {
		p := resolvePath(lat, file)
		if _, err := os.Stat(p); err != nil {
			o.problem(v, "latency", "cannot read %s: %v", p, unwrapPathError(err))
		}
		g.Latency = p
	}
	if no := o.Table("nets"); no != nil {
		g.Nets = decodeNets(no, regions)
		no.Done()
	}
	return g
}

// decodeNets reads [geo.nets]: "CIDR" = "region".
func decodeNets(o *obj, regions []Region) []Net {
	var names []string
	for _, r := range regions {
		names = append(names, r.Name)
	}
	var out []Net
	o.EachString(func(key, region string, v *value) {
		p, err := netip.ParsePrefix(key)
		switch {
		case err != nil:
			o.problem(v, key, "%q is not a CIDR prefix such as \"192.0.2.0/24\"", key)
		case p != p.Masked():
			o.problem(v, key, "%s has bits set past the prefix length (did you mean %s?)", key, p.Masked())
		case !slices.Contains(names, region):
			o.problem(v, key, "%s", undefined("region", region, names))
		default:
			if i := slices.IndexFunc(out, func(n Net) bool { return n.Prefix == p }); i >= 0 {
				o.problem(v, key, "%s is already placed on line %d", p, out[i].Line)
				return
			}
			out = append(out, Net{Prefix: p, Region: region, Line: v.pos.line})
		}
	})
	return out
}

// resolvePath makes p relative to the config file's directory.
func resolvePath(p, file string) string {
	if filepath.IsAbs(p) || file == DefaultSource {
		return p
	}
	return filepath.Join(filepath.Dir(file), p)
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func decodeRegions(o *obj) []Region {
	if o == nil {
		return nil
	}
	var out []Region
	o.Each(func(name string, ro *obj) {
		defer ro.Done()
		if !poolName.MatchString(name) {
			ro.d.add(ro.pos, ro.path, fmt.Sprintf("%q is not a valid region name (lower-case letters, digits, - and _)", name))
		}
		r := Region{Name: name, Line: ro.pos.line}
		lat, latv := ro.Float("lat", 0, -90, 90)
		lon, lonv := ro.Float("lon", 0, -180, 180)
		switch {
		case latv != nil && lonv != nil:
			r.Lat, r.Lon, r.HasCoords = lat, lon, true
		case latv != nil:
			ro.problem(latv, "lon", "is required with lat (give both coordinates or neither)")
		case lonv != nil:
			ro.problem(lonv, "lat", "is required with lon (give both coordinates or neither)")
		}
		r.Bias, _ = ro.Float("bias", 0, -99, 99)
		r.Continents = codes(ro, "continents", func(s string) bool { return slices.Contains(continentCodes, s) },
			"is not a continent code ("+strings.Join(continentCodes, ", ")+")")
		r.Countries = codes(ro, "countries", countryCode.MatchString, "is not an ISO 3166-1 alpha-2 country code such as \"DE\"")
		r.Subdivisions = codes(ro, "subdivisions", subdivisionCode.MatchString, "is not an ISO 3166-2 subdivision code such as \"US-CA\"")
		out = append(out, r)
	})
	o.Done()
	slices.SortFunc(out, func(a, b Region) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// codes reads an array of upper-cased codes, each checked by ok.
func codes(o *obj, key string, ok func(string) bool, bad string) []string {
	list, vals, _ := o.Strings(key)
	var out []string
	for i, c := range list {
		c = strings.ToUpper(strings.TrimSpace(c))
		switch {
		case !ok(c):
			o.problem(vals[i], fmt.Sprintf("%s[%d]", key, i), "%q %s", list[i], bad)
		case slices.Contains(out, c):
			o.problem(vals[i], fmt.Sprintf("%s[%d]", key, i), "%s is listed twice", c)
		default:
			out = append(out, c)
		}
	}
	return out
}

func decodePools(o *obj, regions []Region, monitors []Monitor) []Pool {
	if o == nil {
		return nil
	}
	var names, mnames []string
	for _, r := range regions {
		names = append(names, r.Name)
	}
	for _, m := range monitors {
		mnames = append(mnames, m.Name)
	}
	var out []Pool
	o.Each(func(name string, po *obj) {
		defer po.Done()
		if !poolName.MatchString(name) {
			po.d.add(po.pos, po.path, fmt.Sprintf("%q is not a valid pool name (lower-case letters, digits, - and _)", name))
		}
		p := Pool{Name: name, Line: po.pos.line}
		region, rv := po.String("region", "")
		switch {
		case rv == nil:
			po.problem(nil, "region", "is required: the region this pool is in")
		case !slices.Contains(names, region):
			po.problem(rv, "region", "%s", undefined("region", region, names))
		default:
			p.Region = region
		}
		for _, eo := range po.Tables("endpoints") {
			if e, ok := decodeEndpoint(eo); ok {
				if j := slices.IndexFunc(p.Endpoints, func(x Endpoint) bool { return x.Addr == e.Addr }); j >= 0 {
					eo.problem(eo.t.m["address"], "address", "%s is already endpoint %d of this pool", e.Addr, j)
					continue
				}
				p.Endpoints = append(p.Endpoints, e)
			}
		}
		if len(p.Endpoints) == 0 && po.t.m["endpoints"] == nil {
			po.problem(nil, "endpoints", "at least one endpoint is needed (e.g. endpoints = [{ address = \"192.0.2.1\" }])")
		}
		if mon, mv := po.String("monitor", ""); mv != nil {
			i := slices.IndexFunc(monitors, func(m Monitor) bool { return m.Name == mon })
			if i < 0 {
				po.problem(mv, "monitor", "%s", undefined("monitor", mon, mnames))
			} else {
				p.Monitor = mon
				if monitors[i].Port == 0 {
					for _, e := range p.Endpoints {
						if !e.Probe.IsValid() {
							po.problem(mv, "monitor", "monitor %q has no port: give it one, or endpoint %s a probe address (probe = \"%s\")", mon, e.Addr, netip.AddrPortFrom(e.Addr, 8080))
							break
						}
					}
				}
			}
		}
		mh, mv := po.Int("min_healthy", 1, 1, 1<<16)
		if mv != nil && len(p.Endpoints) > 0 && int(mh) > len(p.Endpoints) {
			po.problem(mv, "min_healthy", "%d is more than the pool's endpoints (%d)", mh, len(p.Endpoints))
		}
		p.MinHealthy = int(mh)
		mi, _ := po.Int("max_inflight", 0, 1, 1_000_000)
		p.MaxInFlight = int(mi)
		p.DrainTimeout, _ = po.Duration("drain_timeout", 10*time.Second, 0, time.Hour)
		p.ServeBeforeRise, _ = po.Bool("serve_before_rise", false)
		p.Fronts = decodeFronts(po, o, name)
		out = append(out, p)
	})
	o.Done()
	slices.SortFunc(out, func(a, b Pool) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func decodeEndpoint(o *obj) (Endpoint, bool) {
	defer o.Done()
	e := Endpoint{Weight: 1, Enabled: true, Line: o.pos.line}
	a, av := o.String("address", "")
	w, _ := o.Int("weight", 1, 1, 65535)
	e.Weight = uint32(w)
	e.Enabled, _ = o.Bool("enabled", true)
	if pr, pv := o.String("probe", ""); pv != nil {
		ap, err := netip.ParseAddrPort(pr)
		if err != nil {
			o.problem(pv, "probe", "%q is not an address and port such as \"192.0.2.10:8080\" or \"[2001:db8::10]:8080\"", pr)
		}
		e.Probe = ap
	}
	if av == nil {
		o.problem(nil, "address", "is required (an IPv4 or IPv6 address)")
		return e, false
	}
	addr, err := netip.ParseAddr(a)
	if err != nil || addr.Zone() != "" {
		o.problem(av, "address", "%q is not an IPv4 or IPv6 address", a)
		return e, false
	}
	e.Addr = addr.Unmap()
	return e, true
}

// undefined says that name is not among the defined ones, with a suggestion.
func undefined(what, name string, defined []string) string {
	msg := fmt.Sprintf("%s %q is not defined", what, name)
	if s := suggest(name, defined); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	} else if len(defined) > 0 {
		msg += fmt.Sprintf(" (defined: %s)", strings.Join(defined, ", "))
	}
	return msg
}
