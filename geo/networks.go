package geo

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Networks walks every network of the first database, with the fields the
// other databases know looked up at the network's first address, until fn
// returns false. The Location's Prefix is the network itself.
func (d *DB) Networks(fn func(p netip.Prefix, l Location) bool) error {
	all := netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	return d.Walkers(1)[0].NetworksWithin(all, func(n Network) bool { return fn(n.Prefix, n.Location()) })
}

// Walkers returns n walkers over the data the DB holds now, for n goroutines walking
// parts of it at once; a reload does not change what they walk.
func (d *DB) Walkers(n int) []*Walker {
	l := d.cur.Load()
	ws := make([]*Walker, n)
	for i := range ws {
		ws[i] = &Walker{
			l:       l,
			records: make([]map[uintptr]int32, len(l.srcs)),
			nrec:    make([]int32, len(l.srcs)),
			tuples:  map[string]int{},
			res:     make([]maxminddb.Result, len(l.srcs)),
			found:   make([]bool, len(l.srcs)),
			fresh:   make([]freshRecord, len(l.srcs)),
		}
		for j := range l.srcs {
			ws[i].records[j] = map[uintptr]int32{}
			ws[i].recent = append(ws[i].recent, new([1 << recentBits]recentRecord))
		}
	}
	return ws
}

// A Walker walks networks as Networks does, but numbers their locations instead of
// decoding every network's records: GeoLite2-City has 3.5 million networks but about
// 540,000 records, and decoding them is most of a walk's cost. A Walker is for one goroutine.
type Walker struct {
	l       *loaded
	records []map[uintptr]int32 // by source: record IDs by offset, -1 for a record that does not decode
	nrec    []int32             // by source: records numbered
	// recent is by source a small direct-mapped cache in front of records: a network's
	// record is most often one of a network walked shortly before, and records is far
	// larger than the processor's caches.
	recent []*[1 << recentBits]recentRecord
	tuples map[string]int // location IDs by the record IDs, with several sources
	key    []byte
	used   []uint64 // by location ID: the sources that supplied a field (bit i: source i)

	// the network being walked
	res     []maxminddb.Result // by source, where found holds
	found   []bool             // by source: it has a decodable record for the network
	fresh   []freshRecord      // by source: the record, when decoded for this network
	loc     Location
	locUsed uint64 // the sources that supplied a field of loc
	hasLoc  bool
}

const recentBits = 12

type recentRecord struct {
	off uintptr
	id  int32 // 1 + the record ID; 0 for an empty slot
}

type freshRecord struct {
	r  record
	ok bool
}

// A Network is one network of a walk, with the location ID of NetworksWithin.
type Network struct {
	Prefix netip.Prefix
	Scope  netip.Prefix // the Location's Prefix: the network over which all of it holds
	ID     int

	w   *Walker // nil: loc
	loc Location
}

// NewNetwork is network p located at l, of location ID id, for walks other than a DB's.
func NewNetwork(p netip.Prefix, l Location, id int) Network {
	return Network{Prefix: p, Scope: l.Prefix, ID: id, loc: l}
}

// Location is where the network is, as Networks reports it. From a Walker, it is valid only
// while the walk's function runs, and it may decode records.
func (n Network) Location() Location {
	if n.w == nil {
		return n.loc
	}
	return n.w.location(n.Prefix)
}

// NetworksWithin walks, in address order, the networks of the first database inside within,
// or the one network that contains within, as maxminddb's NetworksWithin does. IPv4 space may
// also be given at ::/96 (::/96 itself, ::a.b.c.d/100): an IPv4-only database then walks the
// IPv4 prefix, and nothing for IPv6 prefixes outside.
//
// Network.ID numbers the locations from 0 over all the walks of w: two networks of one ID have
// the same Location but for its Prefix, so a caller can keep what it derives from a location
// in a slice by ID and call Location only for a new one.
func (w *Walker) NetworksWithin(within netip.Prefix, fn func(n Network) bool) error {
	if len(w.l.srcs) == 0 {
		return errors.New("walk geo database: closed")
	}
	first := w.l.srcs[0]
	within = within.Masked()
	if first.reader.Metadata.IPVersion == 4 && within.Addr().Is6() {
		var ok bool
		if within, ok = ipv4Part(within); !ok {
			return nil
		}
	}
	for res := range first.reader.NetworksWithin(within) {
		if err := res.Err(); err != nil {
			return fmt.Errorf("walk geo database %s: %w", first.path, err)
		}
		p := res.Prefix()
		w.hasLoc = false
		w.res[0], w.found[0] = res, true
		rid, err := w.record(0, res)
		if err != nil {
			return fmt.Errorf("walk geo database %s: %s: %w", first.path, p, err)
		}
		id := int(rid)
		if len(w.l.srcs) > 1 {
			w.key = binary.AppendUvarint(w.key[:0], uint64(rid))
			for i, s := range w.l.srcs[1:] {
				rid := int32(-1)
				w.found[i+1] = false
				if ip := p.Addr(); !ip.Is6() || s.reader.Metadata.IPVersion != 4 {
					if r := s.reader.Lookup(ip); r.Found() {
						if rid, _ = w.record(i+1, r); rid >= 0 {
							w.res[i+1], w.found[i+1] = r, true
						}
					}
				}
				w.key = binary.AppendVarint(w.key, int64(rid))
			}
			var ok bool
			if id, ok = w.tuples[string(w.key)]; !ok {
				id = len(w.tuples)
				w.tuples[string(w.key)] = id
			}
		}
		if id == len(w.used) { // a new location: which sources supply its fields?
			w.location(p)
			w.used = append(w.used, w.locUsed)
		}
		if !fn(Network{Prefix: p, Scope: w.scope(p, w.used[id]), ID: id, w: w}) {
			return nil
		}
	}
	return nil
}

// record returns the ID of the record of res in source i, decoding it the first time; a
// record that does not decode gets -1, with the error.
func (w *Walker) record(i int, res maxminddb.Result) (int32, error) {
	w.fresh[i].ok = false
	off := res.Offset()
	slot := &w.recent[i][uint64(off)*0x9e3779b97f4a7c15>>(64-recentBits)]
	if slot.id > 0 && slot.off == off {
		return slot.id - 1, nil
	}
	id, ok := w.records[i][off]
	if ok && id >= 0 {
		*slot = recentRecord{off, id + 1}
		return id, nil
	}
	r, err := w.l.srcs[i].schema.decode(res)
	if err != nil {
		w.records[i][off] = -1
		return -1, err
	}
	id = w.nrec[i]
	w.nrec[i]++
	w.records[i][off] = id
	*slot = recentRecord{off, id + 1}
	w.fresh[i] = freshRecord{r, true}
	return id, nil
}

// location is the Location of the current network p, merged as Locate merges.
func (w *Walker) location(p netip.Prefix) Location {
	if w.hasLoc {
		return w.loc
	}
	var loc Location
	var used uint64
	for i, res := range w.res {
		if !w.found[i] {
			continue
		}
		r := w.fresh[i]
		if !r.ok {
			var err error
			if r.r, err = w.l.srcs[i].schema.decode(res); err != nil {
				continue // it decoded before, so this does not happen
			}
		}
		q := p
		if i > 0 {
			q = res.Prefix()
		}
		if loc.merge(r.r, q) {
			used |= 1 << i
		}
	}
	w.loc, w.locUsed, w.hasLoc = loc, used, true
	return loc
}

// scope is the Prefix of the current network p's location, whose records in the sources of
// used supplied a field: the narrowest of their networks, as merge narrows it.
func (w *Walker) scope(p netip.Prefix, used uint64) netip.Prefix {
	var scope netip.Prefix
	for i := range w.res {
		if used&(1<<i) == 0 {
			continue
		}
		q := p
		if i > 0 {
			q = w.res[i].Prefix()
		}
		if !scope.IsValid() || q.Bits() > scope.Bits() {
			scope = q
		}
	}
	return scope
}

// ipv4Part is the IPv4 prefix of an IPv6 prefix p at ::/96, all of IPv4 when p contains
// ::/96, or false when p holds no IPv4 address.
func ipv4Part(p netip.Prefix) (netip.Prefix, bool) {
	v4 := netip.PrefixFrom(netip.IPv6Unspecified(), 96)
	switch {
	case p.Bits() <= 96 && p.Contains(v4.Addr()):
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true
	case p.Bits() > 96 && v4.Contains(p.Addr()):
		b := p.Addr().As16()
		return netip.PrefixFrom(netip.AddrFrom4([4]byte(b[12:])), p.Bits()-96), true
	}
	return netip.Prefix{}, false
}
