package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// haversineReference is shared/WORKLOADS.md's sum of distances (km) for n
// generated requests, where it gives one.
func haversineReference(n int) (float64, bool) {
	switch n {
	case 80_000:
		return 801123227.466, true
	case 8_000_000:
		return 80086829761.240, true
	}
	return 0, false
}

// wrongHaversineTotal checks the total_km= a haversine program printed for
// n requests against WORKLOADS.md's reference (relative tolerance 1e-9),
// so that a twin computing something else shows instead of its time. It
// returns "" when the total is right or n has no reference.
func wrongHaversineTotal(out string, n int) string {
	want, ok := haversineReference(n)
	if !ok {
		return ""
	}
	for _, f := range strings.Fields(out) {
		if v, found := strings.CutPrefix(f, "total_km="); found {
			got, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Sprintf("total_km=%s is not a number", v)
			}
			if math.Abs(got-want)/want > 1e-9 {
				return fmt.Sprintf("total_km=%s for %d requests, want %.3f (WORKLOADS.md, relative tolerance 1e-9)", v, n, want)
			}
			return ""
		}
	}
	return "no total_km= in its output"
}
