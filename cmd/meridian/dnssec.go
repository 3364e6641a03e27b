package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/meridian-gslb/meridian/config"
	"github.com/meridian-gslb/meridian/dns/dnssec"
)

const dnssecUsage = `usage:
  meridian dnssec keygen [-c FILE | -dir DIR] [-role csk|ksk|zsk] [-algorithm ecdsap256sha256|ed25519] ZONE
      make a key pair for ZONE: K<zone>+<alg>+<tag>.key and .private beside the config
      (or in DIR); prints the key's path to put in [zones."ZONE".dnssec] keys (or publish)
  meridian dnssec ds [-c FILE | -key PATH...] ZONE
      print the DS records (SHA-256) of ZONE's key-signing keys, for the parent zone
`

func dnssecCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, dnssecUsage)
		return errQuiet
	}
	switch args[0] {
	case "keygen":
		return keygen(args[1:], stdout, stderr)
	case "ds":
		return dsCmd(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, dnssecUsage)
		return nil
	}
	fmt.Fprintf(stderr, "meridian dnssec: unknown command %q\n\n%s", args[0], dnssecUsage)
	return errQuiet
}

func keygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dnssec keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "", "config file: the key is written beside it")
	dir := fs.String("dir", "", "directory to write the key into (default: beside -c, else the current one)")
	role := fs.String("role", "csk", "csk: one key signs everything (flags 257); ksk: signs the DNSKEY RRset (257); zsk: signs the rest (256)")
	alg := fs.String("algorithm", "ecdsap256sha256", "ecdsap256sha256 (13) or ed25519 (15)")
	ttl := fs.Uint("ttl", 3600, "TTL written in the .key file (the served DNSKEY TTL is the zone's dnskey_ttl)")
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	if fs.NArg() != 1 {
		fmt.Fprint(stderr, dnssecUsage)
		return errQuiet
	}
	zone := fs.Arg(0)
	if _, ok := dns.IsDomainName(zone); !ok {
		return fmt.Errorf("%q is not a zone name", zone)
	}
	number, ok := dnssec.Algorithms[strings.ToLower(*alg)]
	if !ok {
		return fmt.Errorf("-algorithm %q: want ecdsap256sha256 or ed25519", *alg)
	}
	flags := map[string]uint16{"csk": dnssec.FlagsKSK, "ksk": dnssec.FlagsKSK, "zsk": dnssec.FlagsZSK}
	fl, ok := flags[*role]
	if !ok {
		return fmt.Errorf("-role %q: want csk, ksk or zsk", *role)
	}
	out := *dir
	switch {
	case out != "" && *cfgPath != "":
		return errors.New("-c and -dir: give one")
	case out == "" && *cfgPath != "":
		out = filepath.Dir(*cfgPath)
	case out == "":
		out = "."
	}
	if err := os.MkdirAll(out, 0o700); err != nil { // a keys directory: only its owner reads it
		return fmt.Errorf("key directory: %w", err)
	}
	base, key, err := dnssec.Generate(out, zone, number, fl, uint32(*ttl))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, base)
	rel := base
	if *cfgPath != "" {
		rel = filepath.Base(base)
	}
	fmt.Fprintf(stderr, "made %s key %d (algorithm %d) for %s; sign with it:\n  [zones.%q.dnssec]\n  keys = [%q]\n",
		strings.ToUpper(*role), key.KeyTag(), number, dns.Fqdn(zone), strings.TrimSuffix(strings.ToLower(zone), "."), rel)
	if fl == dnssec.FlagsKSK {
		fmt.Fprintf(stderr, "and give the parent its DS: %s\n", key.ToDS(dns.SHA256).String())
	}
	return nil
}

func dsCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dnssec ds", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "", "config file: the zone's keys and published keys")
	var bases multiFlag
	fs.Var(&bases, "key", "a key's path (without .key); repeatable; instead of -c")
	if err := fs.Parse(args); err != nil {
		return flagErr(err)
	}
	if fs.NArg() != 1 || (*cfgPath == "") == (len(bases) == 0) {
		fmt.Fprint(stderr, dnssecUsage)
		return errQuiet
	}
	zone := dns.Fqdn(strings.ToLower(fs.Arg(0)))
	if *cfgPath != "" {
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return errQuiet
		}
		i := slices.IndexFunc(cfg.Zones, func(z config.Zone) bool { return z.Origin == zone })
		switch {
		case i < 0:
			return fmt.Errorf("%s serves no zone %s", *cfgPath, zone)
		case cfg.Zones[i].DNSSEC == nil:
			return fmt.Errorf("zone %s in %s is not signed (no [zones.%q.dnssec] table)", zone, *cfgPath, strings.TrimSuffix(zone, "."))
		}
		bases = append(slices.Clone(cfg.Zones[i].DNSSEC.Keys), cfg.Zones[i].DNSSEC.Publish...)
	}
	n := 0
	for _, b := range bases {
		k, err := dnssec.ReadPublic(b, zone)
		if err != nil {
			return err
		}
		if k.Flags&dns.SEP == 0 {
			continue // a ZSK: the parent does not point at it
		}
		fmt.Fprintln(stdout, dnssec.DS(k).String())
		n++
	}
	if n == 0 {
		return fmt.Errorf("zone %s has no key-signing key (flags 257) to give the parent", zone)
	}
	return nil
}

// flagErr: -h prints the flags and is not an error; any other flag error was printed.
func flagErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return errQuiet
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }
