package main

import "math"

// earthRadiusKm is the radius WORKLOADS.md fixes for the great-circle
// distance.
const earthRadiusKm = 6372.8

// request is one question to the service: the distance between two points
// (degrees; longitudes west as positive numbers, as in WORKLOADS.md).
type request struct {
	Name                   string
	Lat1, Lon1, Lat2, Lon2 float64
}

// namedRequests are the four requests of WORKLOADS.md.
var namedRequests = []request{
	{"california_to_newJersey", 37, 120, 40, 74},
	{"oklahoma_to_texas", 35.5, 98, 31, 100},
	{"arizona_to_kansas", 34, 112, 38.5, 98},
	{"mississippi_to_boston", 33, 90, 42.3581, 71.0636},
}

// haversine returns the great-circle distance in km.
func haversine(lat1, lon1, lat2, lon2 float64) float64 {
	dlat, dlon := radians(lat2-lat1), radians(lon2-lon1)
	a := square(math.Sin(dlat/2)) + math.Cos(radians(lat1))*math.Cos(radians(lat2))*square(math.Sin(dlon/2))
	return earthRadiusKm * 2 * math.Asin(math.Sqrt(a))
}

// radians converts degrees to radians.
func radians(deg float64) float64 { return deg * math.Pi / 180 }

// square returns x*x. Not math.Pow(x, 2): Pow computes any power, through
// the logarithm of x's parts, 19 ns a call here against 2 ns for x*x
// (BenchmarkMathPow2, BenchmarkSquare). C compilers turn pow(x, 2) into
// x*x; Go's does not.
func square(x float64) float64 { return x * x }

// generate fills coords with requests first, first+1, ... of the generated
// load, four numbers per request (lat1, lon1, lat2, lon2), with the 64-bit
// integer formulas of WORKLOADS.md.
func generate(coords []float64, first int) {
	for k := range len(coords) / 4 {
		i := int64(first + k)
		request := coords[4*k : 4*k+4]
		request[0] = float64((i*7919)%180001)/1000.0 - 90
		request[1] = float64((i*104729)%360001)/1000.0 - 180
		request[2] = float64((i*1299709)%180001)/1000.0 - 90
		request[3] = float64((i*15485863)%360001)/1000.0 - 180
	}
}

// generated returns requests first..first+n-1 of the generated load, laid
// out as generate does.
func generated(first, n int) []float64 {
	coords := make([]float64, 4*n)
	generate(coords, first)
	return coords
}

// sumDistances answers a block of requests laid out as generated does.
func sumDistances(coords []float64) float64 {
	sum := 0.0
	for i := 0; i+3 < len(coords); i += 4 {
		sum += haversine(coords[i], coords[i+1], coords[i+2], coords[i+3])
	}
	return sum
}
