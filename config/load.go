package config

import (
	_ "embed"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/meridian-gslb/meridian/dns/cookie"
)

// DefaultTOML is the embedded demo config that `meridian serve` runs without -c.
//
//go:embed default.toml
var DefaultTOML []byte

// DefaultSource is the Source of the embedded default config.
const DefaultSource = "embedded default"

// Load reads and validates the config file at path. Its error is a Problems listing every
// problem found, or a plain error when the file cannot be read.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Default returns the embedded demo config.
func Default() (*Config, error) { return Parse(DefaultSource, DefaultTOML) }

// Parse validates data, read from file (used in messages and to resolve relative paths).
func Parse(file string, data []byte) (*Config, error) {
	d := &decoder{file: file}
	root, ok := tomlTree(data, func(p pos, path, msg string) { d.add(p, path, msg) })
	if !ok {
		return nil, d.probs.sorted()
	}
	cfg := &Config{Source: file, LoadedAt: time.Now()}
	top := &obj{d: d, t: root}
	if srv := top.Table("server"); srv != nil {
		cfg.Server = decodeServer(srv, file)
	} else {
		cfg.Server = decodeServer(&obj{d: d, t: newTable(), path: "server"}, file)
	}
	cfg.Cluster = decodeCluster(top.Table("cluster"), file)
	cfg.Regions = decodeRegions(top.Table("regions"))
	cfg.Geo = decodeGeo(top.Table("geo"), file, cfg.Regions)
	cfg.Monitors = decodeMonitors(top.Table("monitors"))
	cfg.Pools = decodePools(top.Table("pools"), cfg.Regions, cfg.Monitors)
	cfg.Notify = decodeNotifies(top.Tables("notify"), file)
	cfg.Proxies = decodeProxies(top.Table("proxy"), proxyRefs{file: file, pools: cfg.Pools, monitors: cfg.Monitors, regions: cfg.Regions, server: cfg.Server})
	g := newGSLB(cfg.Geo, cfg.Regions, cfg.Pools)
	cfg.TSIG = decodeTSIG(top.Table("tsig"), file)
	if zones := top.Table("zones"); zones != nil {
		seen := map[string]int{}
		zones.Each(func(key string, z *obj) {
			zc, ok := decodeZone(z, key, cfg.LoadedAt, g, file, cfg.TSIG)
			if !ok {
				return
			}
			if line, dup := seen[zc.Origin]; dup {
				d.add(z.pos, z.path, fmt.Sprintf("zone %s is already defined on line %d", zc.Origin, line))
				return
			}
			seen[zc.Origin] = z.pos.line
			cfg.Zones = append(cfg.Zones, zc)
		})
		zones.Done()
	}
	checkTSIGUsed(d, cfg.TSIG, cfg.Zones)
	for _, f := range d.after {
		f(cfg)
	}
	top.Done()
	if len(d.probs) > 0 {
		return nil, d.probs.sorted()
	}
	slices.SortFunc(cfg.Zones, func(a, b Zone) int { return strings.Compare(a.Origin, b.Origin) })
	return cfg, nil
}

func decodeServer(o *obj, file string) Server {
	s := Server{}
	host, _ := os.Hostname()
	s.Node, _ = o.String("node", host)
	if s.Node == "" {
		s.Node = "meridian"
	}
	addrs, vals, _ := o.Strings("dns")
	if addrs == nil {
		s.DNS = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:5353")}
	}
	for i, a := range addrs {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			o.problem(vals[i], fmt.Sprintf("dns[%d]", i), "%q is not an ip:port address (e.g. \"127.0.0.1:53\", \"[::1]:53\")", a)
			continue
		}
		if ap.Addr().IsUnspecified() {
			// Replies must leave from the address the query was sent to; on a host with several
			// addresses a wildcard socket cannot promise that without IP_PKTINFO, which we lack.
			o.problem(vals[i], fmt.Sprintf("dns[%d]", i), "%s: wildcard addresses are not supported; list each address to serve (e.g. \"192.0.2.53:53\")", ap)
			continue
		}
		if slices.Contains(s.DNS, ap) {
			o.problem(vals[i], fmt.Sprintf("dns[%d]", i), "%s is listed twice", ap)
			continue
		}
		s.DNS = append(s.DNS, ap)
	}
	if addrs != nil && len(vals) == 0 {
		o.problem(nil, "dns", "at least one address is needed")
	}
	httpAddr, hv := o.String("http", "127.0.0.1:8053")
	if httpAddr != "" {
		ap, err := netip.ParseAddrPort(httpAddr)
		if err != nil {
			o.problem(hv, "http", "%q is not an ip:port address, or \"\" to turn HTTP off", httpAddr)
		}
		s.HTTP = ap
	}
	dir, _ := o.String("data_dir", "data")
	if dir == "" {
		o.problem(nil, "data_dir", "must not be empty")
	}
	if !filepath.IsAbs(dir) && file != DefaultSource {
		dir = filepath.Join(filepath.Dir(file), dir)
	}
	s.DataDir = dir
	b, _ := o.Int("edns_buffer", 1232, 512, 4096)
	s.EDNSBuffer = uint16(b)
	s.Version, _ = o.String("version", "")
	n, _ := o.Int("udp_sockets", 0, 0, 256)
	s.UDPSockets = int(n)
	s.FailoverTarget, _ = o.Duration("failover_target", 0, 0, 24*time.Hour)
	mc, _ := o.Int("tcp_max_connections", 1024, 1, 1<<20)
	mpc, mpv := o.Int("tcp_max_connections_per_client", 16, 1, 1<<20)
	if mpc > mc {
		o.problem(mpv, "tcp_max_connections_per_client", "%d is more than tcp_max_connections (%d)", mpc, mc)
	}
	s.TCP.MaxConns, s.TCP.MaxConnsPerClient = int(mc), int(mpc)
	// The keepalive option counts in 100 ms units up to 65535 (RFC 7828 §3.1).
	s.TCP.IdleTimeout, _ = o.Duration("tcp_idle_timeout", 10*time.Second, 100*time.Millisecond, 6553*time.Second)
	s.TCP.QueryTimeout, _ = o.Duration("tcp_query_timeout", 2*time.Second, 10*time.Millisecond, time.Minute)
	s.Cookies = decodeCookies(o.Table("cookies"), file)
	s.RRL = decodeRRL(o.Table("rrl"))
	s.Dnstap = decodeDnstap(o.Table("dnstap"), s.Node, file)
	s.TokenFile = secretFile(o, "token_file", file)
	s.PeerSecretFile = secretFile(o, "peer_secret_file", file)
	if !s.HTTP.IsValid() {
		for _, k := range []string{"token_file", "peer_secret_file"} {
			if v := o.t.m[k]; v != nil {
				o.problem(v, k, "needs the HTTP listener (server.http), which is off")
			}
		}
	}
	o.Done()
	return s
}

// secretFile reads the path of a file holding a secret, resolved beside the config file, and
// checks that it can be read; "" when the key is absent.
func secretFile(o *obj, key, file string) string {
	p, v := o.String(key, "")
	if v == nil || p == "" {
		return ""
	}
	p = resolvePath(p, file)
	if _, err := os.Stat(p); err != nil {
		o.problem(v, key, "cannot read %s: %v", p, unwrapPathError(err))
	}
	return p
}

func decodeCookies(o *obj, file string) Cookies {
	c := Cookies{Enabled: true}
	if o == nil {
		return c
	}
	defer o.Done()
	c.Enabled, _ = o.Bool("enabled", true)
	c.SecretFile = cookieSecret(o, "secret_file", file)
	c.PreviousSecretFile = cookieSecret(o, "previous_secret_file", file)
	if c.PreviousSecretFile != "" && c.SecretFile == "" {
		o.problem(o.t.m["previous_secret_file"], "previous_secret_file", "needs secret_file: the previous secret is accepted beside the current one")
	}
	n, _ := o.Int("max_nocookie_response", 0, 0, 65535)
	if n > 0 && n < 512 {
		o.problem(o.t.m["max_nocookie_response"], "max_nocookie_response", "%d is below 512, the smallest reply every client takes; 0 turns the limit off", n)
	}
	c.MaxNoCookieResponse = int(n)
	return c
}

// cookieSecret is a secret file that must hold 32 hex digits.
func cookieSecret(o *obj, key, file string) string {
	p := secretFile(o, key, file)
	if p == "" {
		return ""
	}
	if b, err := os.ReadFile(p); err == nil {
		if _, err := cookie.ParseSecret(b); err != nil {
			o.problem(o.t.m[key], key, "%s: %v (16 random bytes: openssl rand -hex 16)", p, err)
		}
	}
	return p
}

func decodeRRL(o *obj) RRL {
	r := RRL{Window: 15 * time.Second, Slip: 2, IPv4Prefix: 24, IPv6Prefix: 56, TableSize: 65536}
	if o == nil {
		return r
	}
	defer o.Done()
	n, _ := o.Int("responses_per_second", 0, 0, 1_000_000)
	r.ResponsesPerSecond = int(n)
	r.Window, _ = o.Duration("window", r.Window, time.Second, time.Hour)
	slip, _ := o.Int("slip", 2, 0, 10)
	r.Slip = int(slip)
	v4, _ := o.Int("ipv4_prefix", 24, 1, 32)
	v6, _ := o.Int("ipv6_prefix", 56, 1, 128)
	r.IPv4Prefix, r.IPv6Prefix = int(v4), int(v6)
	ts, _ := o.Int("table_size", 65536, 1, 1<<30)
	r.TableSize = int(ts)
	r.LogOnly, _ = o.Bool("log_only", false)
	nets, vals, _ := o.Strings("exempt")
	for i, s := range nets {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			o.problem(vals[i], fmt.Sprintf("exempt[%d]", i), "%q is not a CIDR such as \"192.0.2.0/24\" or \"2001:db8::/32\"", s)
			continue
		}
		r.Exempt = append(r.Exempt, p.Masked())
	}
	return r
}
