package geo

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Options tune a DB.
type Options struct {
	CacheSize int // bounded lookup cache entries; default 65536; <0 disables
}

// DB answers Locate from one or more layered databases. It is safe for
// concurrent use; Reload and Watch swap in new data without blocking Locate.
type DB struct {
	paths []string
	opts  Options
	cur   atomic.Pointer[loaded]

	mu     sync.Mutex // serialises Reload and Close; Locate never takes it
	closed bool
}

// loaded is one immutable generation of the databases, with its own cache.
type loaded struct {
	srcs   []*source
	stamps []stamp
	cache  *cache // nil when disabled
}

// Open opens one or more .mmdb files, layered: for each field, the first database (in the
// given order) that knows it wins. E.g. [country DB, city DB, ASN DB].
func Open(paths []string, o Options) (*DB, error) {
	if len(paths) == 0 {
		return nil, errors.New("open geo databases: no file given")
	}
	d := &DB{paths: append([]string(nil), paths...), opts: o}
	l, err := d.load()
	if err != nil {
		return nil, err
	}
	d.cur.Store(l)
	return d, nil
}

func (d *DB) load() (*loaded, error) {
	l := &loaded{cache: newCache(d.opts.CacheSize)}
	for _, p := range d.paths {
		s, err := openSource(p)
		if err != nil {
			return nil, err
		}
		l.srcs = append(l.srcs, s)
		l.stamps = append(l.stamps, s.stamp)
	}
	return l, nil
}

// Locate returns what the databases know about ip. It never fails: an
// address no database has a record for gives the zero Location. IPv4-mapped
// IPv6 addresses are looked up as IPv4, and zones are ignored.
func (d *DB) Locate(ip netip.Addr) Location {
	if !ip.IsValid() {
		return Location{}
	}
	ip = ip.Unmap().WithZone("")
	l := d.cur.Load()
	if l.cache == nil {
		return l.locate(ip)
	}
	if loc, ok := l.cache.get(ip); ok {
		return loc
	}
	loc := l.locate(ip)
	l.cache.put(ip, loc)
	return loc
}

func (l *loaded) locate(ip netip.Addr) Location {
	var loc Location
	for _, s := range l.srcs {
		if r, p, ok := s.lookup(ip); ok {
			loc.merge(r, p)
		}
	}
	return loc
}

// Reload re-opens the same files. On success it swaps the new data in
// atomically, with an empty cache; on error the old data keeps answering.
func (d *DB) Reload() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errors.New("reload geo databases: closed")
	}
	l, err := d.load()
	if err != nil {
		return err
	}
	d.cur.Store(l)
	return nil
}

// Close drops the data; Locate answers the zero Location from then on and
// Reload fails. The files are not held open, so Close never fails.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	d.cur.Store(&loaded{})
	return nil
}

// Describe returns one line per database: path, detected schema, database
// type, IP version, build date and node count.
func (d *DB) Describe() []string {
	l := d.cur.Load()
	out := make([]string, 0, len(l.srcs))
	for _, s := range l.srcs {
		out = append(out, s.describe())
	}
	return out
}
