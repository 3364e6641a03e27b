package policy

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LatencyTable is a LatencySource read from a CSV file of measured round-trip times:
//
//	client,region,rtt_ms
//	81.2.69.0/24,eu-central,12.5
//	DE,eu-central,18
//	continent:EU,us-east,95
//
// A client is a CIDR, a country code or "continent:" and a continent code. For a client and
// a region, the RTT is the one of the longest CIDR holding Client.Addr that has one for the
// region, else that of Client.Loc.Country, else that of Client.Loc.Continent. Lines starting
// with '#' are comments. A table is immutable once loaded, so any number of goroutines may
// read it; reloading means loading a new one.
type LatencyTable struct {
	prefixes   map[prefixRegion]time.Duration
	bits4      []int // prefix lengths present, longest first
	bits6      []int
	countries  map[codeRegion]time.Duration
	continents map[codeRegion]time.Duration
}

type prefixRegion struct {
	p      netip.Prefix
	region string
}

type codeRegion struct {
	code, region string
}

// continentRegion keys continents apart from countries while loading.
type continentRegion codeRegion

// LoadLatency reads a latency table. Its error lists every problem as file:line: message.
func LoadLatency(path string) (*LatencyTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open latency table: %w", err)
	}
	defer f.Close()
	return readLatency(path, f)
}

func readLatency(name string, r io.Reader) (*LatencyTable, error) {
	t := &LatencyTable{
		prefixes:   make(map[prefixRegion]time.Duration),
		countries:  make(map[codeRegion]time.Duration),
		continents: make(map[codeRegion]time.Duration),
	}
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = 3
	cr.TrimLeadingSpace = true
	lines := map[any]int{} // a row's key → its line, to report duplicates
	var problems []error
	for row := 0; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			if row == 0 {
				problems = append(problems, fmt.Errorf("%s: empty, want the header client,region,rtt_ms", name))
			}
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				problems = append(problems, fmt.Errorf("%s:%d: %v", name, pe.Line, pe.Err))
				if pe.Err == csv.ErrFieldCount {
					continue
				}
			} else {
				problems = append(problems, fmt.Errorf("%s: %w", name, err))
			}
			break
		}
		line, _ := cr.FieldPos(0)
		if row == 0 {
			if got := strings.Join(rec, ","); !strings.EqualFold(got, "client,region,rtt_ms") {
				problems = append(problems, fmt.Errorf("%s:%d: header %q, want client,region,rtt_ms", name, line, got))
				break
			}
			continue
		}
		key, err := t.add(rec[0], rec[1], rec[2])
		if err != nil {
			problems = append(problems, fmt.Errorf("%s:%d: %w", name, line, err))
			continue
		}
		if at, dup := lines[key]; dup {
			problems = append(problems, fmt.Errorf("%s:%d: %s to %s is already on line %d", name, line, rec[0], rec[1], at))
			continue
		}
		lines[key] = line
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return t, nil
}

// add parses one row into t and returns its key.
func (t *LatencyTable) add(client, region, ms string) (any, error) {
	region = strings.TrimSpace(region)
	if region == "" {
		return nil, errors.New("empty region")
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(ms), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return nil, fmt.Errorf("rtt_ms %q is not a number of milliseconds >= 0", ms)
	}
	rtt := time.Duration(v * float64(time.Millisecond))
	client = strings.TrimSpace(client)
	switch {
	case strings.Contains(client, "/"):
		p, err := netip.ParsePrefix(client)
		if err != nil {
			return nil, fmt.Errorf("client %q: %w", client, err)
		}
		if p.Masked() != p {
			return nil, fmt.Errorf("client %s has host bits set (did you mean %s?)", p, p.Masked())
		}
		if p.Addr().Is4In6() {
			return nil, fmt.Errorf("client %s: write IPv4-mapped prefixes as IPv4", p)
		}
		key := prefixRegion{p, region}
		t.prefixes[key] = rtt
		if p.Addr().Is4() {
			t.bits4 = insertBits(t.bits4, p.Bits())
		} else {
			t.bits6 = insertBits(t.bits6, p.Bits())
		}
		return key, nil
	case len(client) > len("continent:") && strings.EqualFold(client[:len("continent:")], "continent:"):
		code := strings.ToUpper(client[len("continent:"):])
		if !isCode(code) {
			return nil, fmt.Errorf("client %q: want a two-letter continent code such as continent:EU", client)
		}
		t.continents[codeRegion{code, region}] = rtt
		return continentRegion{code, region}, nil
	default:
		code := strings.ToUpper(client)
		if !isCode(code) {
			return nil, fmt.Errorf("client %q: want a CIDR, a two-letter country code or continent:XX", client)
		}
		t.countries[codeRegion{code, region}] = rtt
		return codeRegion{code, region}, nil
	}
}

// insertBits adds b to a descending list of distinct prefix lengths.
func insertBits(bits []int, b int) []int {
	i, found := slices.BinarySearchFunc(bits, b, func(x, y int) int { return y - x })
	if found {
		return bits
	}
	return slices.Insert(bits, i, b)
}

func isCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// RTT returns the measured round-trip time from c to region, if the table has one. A nil
// table has none.
func (t *LatencyTable) RTT(c Client, region string) (time.Duration, bool) {
	if t == nil {
		return 0, false
	}
	a := c.Addr.Unmap()
	bits := t.bits6
	if a.Is4() {
		bits = t.bits4
	}
	if a.IsValid() {
		for _, b := range bits {
			p, err := a.Prefix(b)
			if err != nil {
				continue
			}
			if rtt, ok := t.prefixes[prefixRegion{p, region}]; ok {
				return rtt, true
			}
		}
	}
	if c.Loc.Country != "" {
		if rtt, ok := t.countries[codeRegion{c.Loc.Country, region}]; ok {
			return rtt, true
		}
	}
	if c.Loc.Continent != "" {
		if rtt, ok := t.continents[codeRegion{c.Loc.Continent, region}]; ok {
			return rtt, true
		}
	}
	return 0, false
}

// Len is the number of measurements in the table.
func (t *LatencyTable) Len() int {
	return len(t.prefixes) + len(t.countries) + len(t.continents)
}

// FinestBits is the longest CIDR length in the table for a's family, 0 without any. A latency
// answer can change at any CIDR of the table, so an ECS scope for it is never wider than this.
func (t *LatencyTable) FinestBits(a netip.Addr) int {
	if t == nil {
		return 0
	}
	bits := t.bits6
	if a.Is4() {
		bits = t.bits4
	}
	if len(bits) == 0 {
		return 0
	}
	return bits[0]
}
