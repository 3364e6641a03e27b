package geo

import "math"

// earthRadius is the mean Earth radius in km (IUGG).
const earthRadius = 6371.0088

// Distance is the great-circle distance in km between two points given in
// degrees, by the haversine formula on a sphere of the mean Earth radius.
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	phi1, phi2 := lat1*rad, lat2*rad
	dPhi := phi2 - phi1
	dLambda := (lon2 - lon1) * rad
	sPhi, sLambda := math.Sin(dPhi/2), math.Sin(dLambda/2)
	a := sPhi*sPhi + math.Cos(phi1)*math.Cos(phi2)*sLambda*sLambda
	return 2 * earthRadius * math.Asin(math.Sqrt(math.Min(1, a)))
}
