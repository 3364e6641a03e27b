package policy

import "math"

// earthRadiusKm is the mean Earth radius (IUGG).
const earthRadiusKm = 6371.0088

// distanceKm is the great-circle (haversine) distance between two points in degrees.
func distanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	return havKm(haversine(lat1, lon1, lat2, lon2))
}

// haversine is the haversine of the central angle between two points: it grows with the
// distance, so it orders by distance without the costly arcsine.
func haversine(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	p1, p2 := lat1*rad, lat2*rad
	dLat, dLon := (lat2-lat1)*rad, (lon2-lon1)*rad
	s1, s2 := math.Sin(dLat/2), math.Sin(dLon/2)
	return min(1, s1*s1+math.Cos(p1)*math.Cos(p2)*s2*s2)
}

// havKm turns a haversine into kilometres.
func havKm(h float64) float64 { return 2 * earthRadiusKm * math.Asin(math.Sqrt(h)) }

// biasedKm is the Route 53 geoproximity distance from a client to a region:
// distance × (1 − Bias/100), with Bias clamped to -99..99.
func biasedKm(loc Location, r *Region) float64 {
	b := min(99, max(-99, r.Bias))
	return distanceKm(loc.Lat, loc.Lon, r.Lat, r.Lon) * (1 - b/100)
}

// regionKm is the plain distance between two regions.
func regionKm(a, b *Region) float64 { return havKm(regionHav(a, b)) }

// regionHav is the haversine between two regions, for ordering.
func regionHav(a, b *Region) float64 { return haversine(a.Lat, a.Lon, b.Lat, b.Lon) }

// regionHav is the haversine between two of the service's regions, computed once.
func (s *Service) regionHav(a, b *Region) float64 {
	m := s.havs.Load()
	if m == nil {
		all := map[[2]*Region]float64{}
		for _, p := range s.Pools {
			for _, q := range s.Pools {
				if p != nil && q != nil && hasCoords(p.Region) && hasCoords(q.Region) {
					all[[2]*Region{p.Region, q.Region}] = regionHav(p.Region, q.Region)
				}
			}
		}
		s.havs.Store(&all) // racing first uses compute the same map
		m = &all
	}
	if h, ok := (*m)[[2]*Region{a, b}]; ok {
		return h
	}
	return regionHav(a, b)
}

// hasCoords reports whether r is a region with coordinates.
func hasCoords(r *Region) bool { return r != nil && r.HasCoords }
