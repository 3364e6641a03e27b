package policy

// OrderKey encodes the tiers the order step gives a client at loc, for both address
// families, as a short comparable string: two locations with the same key get the same
// ordered pools in the same tiers, whatever the health, so their answers differ at most by
// the random or hashed selection. It runs Decide's own filter and order steps and looks at
// nothing but the location, which lets a caller precompute the key per geo database network
// and scope an ECS reply by the region over which the key is constant (see geo/netmap).
//
// ok is false when the order depends on more than the location: Latency (measured RTTs per
// client prefix) and Failover (on nothing: such answers are scoped 0 when the selection is not
// Hash). With Select Hash the answer also varies with the client's subnet, so the caller's
// scope must never be wider than Decision.SubnetBits.
func OrderKey(s *Service, loc Location, located bool) (key string, ok bool) {
	if s == nil || (s.Order != Geo && s.Order != Proximity) || len(s.Pools) > maxKeyPools {
		return "", false
	}
	var pbuf [stackPools]ranked
	var kbuf [2 * 2 * stackPools]byte
	b := kbuf[:0]
	for _, fam := range [...]int{4, 6} {
		d := decider{r: Request{Service: s, Client: Client{Loc: loc, Located: located}, Family: fam}}
		ps := d.filter(pbuf[:0])
		d.order(ps)
		b = appendTiers(b, s.Pools, ps)
		b = append(b, familyEnd)
	}
	return string(b), true
}

// Key bytes: each pool is its index in Service.Pools (0..maxKeyPools-1), one byte, with
// newTier added when it starts a tier; familyEnd closes the pools of one family.
const (
	maxKeyPools = 127
	newTier     = 0x80
	familyEnd   = 0xff
)

// appendTiers appends the ordered pools of ps as key bytes.
func appendTiers(b []byte, pools []*Pool, ps []ranked) []byte {
	for i := range ps {
		c := byte(poolIndex(pools, ps[i].pool))
		if i == 0 || ps[i].tier != ps[i-1].tier {
			c |= newTier
		}
		b = append(b, c)
	}
	return b
}

// poolIndex is the index of p in pools; filter only yields pools from there.
func poolIndex(pools []*Pool, p *Pool) int {
	for i, q := range pools {
		if q == p {
			return i
		}
	}
	panic("policy: ordered pool not in the service")
}
