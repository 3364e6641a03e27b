package geo

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/oschwald/maxminddb-golang/v2"
)

// source is one database file, read whole into memory, so nothing needs
// closing while lookups may still be running on it.
type source struct {
	path   string
	reader *maxminddb.Reader
	schema schema
	stamp  stamp // of the file before it was read
}

// stamp is what Watch compares to notice a changed file.
type stamp struct {
	size, mtime int64 // mtime in ns since the epoch
	missing     bool
}

func statFile(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{missing: true}, err
	}
	return stamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}, nil
}

func openSource(path string) (*source, error) {
	st, err := statFile(path)
	if err != nil {
		return nil, fmt.Errorf("read geo database: %w", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read geo database: %w", err)
	}
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, fmt.Errorf("open geo database %s: %w", path, err)
	}
	sc, err := detectSchema(r)
	if err != nil {
		return nil, fmt.Errorf("open geo database %s: %w", path, err)
	}
	return &source{path: path, reader: r, schema: sc, stamp: st}, nil
}

// lookup returns the record for ip and its network, or false when the
// database has no record for it. A record that does not decode counts as none.
func (s *source) lookup(ip netip.Addr) (record, netip.Prefix, bool) {
	if ip.Is6() && s.reader.Metadata.IPVersion == 4 {
		return record{}, netip.Prefix{}, false
	}
	res := s.reader.Lookup(ip)
	if !res.Found() {
		return record{}, netip.Prefix{}, false
	}
	r, err := s.schema.decode(res)
	if err != nil {
		return record{}, netip.Prefix{}, false
	}
	return r, res.Prefix(), true
}

func (s *source) describe() string {
	m := s.reader.Metadata
	return fmt.Sprintf("%s: schema %s, type %q, IPv%d, built %s, %d nodes",
		s.path, s.schema, m.DatabaseType, m.IPVersion, m.BuildTime().UTC().Format("2006-01-02"), m.NodeCount)
}
