package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestNamedDistances checks the formula against WORKLOADS.md's table, to
// the three decimals it gives.
func TestNamedDistances(t *testing.T) {
	want := map[string]string{
		"california_to_newJersey": "3973.608",
		"oklahoma_to_texas":       "533.934",
		"arizona_to_kansas":       "1350.039",
		"mississippi_to_boston":   "1958.421",
	}
	for _, r := range namedRequests {
		if got := fmt.Sprintf("%.3f", haversine(r.Lat1, r.Lon1, r.Lat2, r.Lon2)); got != want[r.Name] {
			t.Errorf("%s: %s km, want %s", r.Name, got, want[r.Name])
		}
	}
}

// TestGeneratedSum checks the generator and the formula together against
// WORKLOADS.md's sum for 80,000 requests, in one process.
func TestGeneratedSum(t *testing.T) {
	const reference = 801123227.466
	if got := sumDistances(generated(0, 80000)); math.Abs(got-reference)/reference > 1e-9 {
		t.Errorf("sum of 80,000 distances = %.6f, want %.3f (relative tolerance 1e-9)", got, reference)
	}
}

// TestGenerateInShares checks that generating the requests share by share,
// at any offsets and into a reused buffer, as the static split does, gives
// the same requests as generating them at once.
func TestGenerateInShares(t *testing.T) {
	seed := uint64(rand.Int64())
	rng := rand.New(rand.NewPCG(seed, 0))
	const n = 5000
	whole := generated(0, n)
	buf := make([]float64, 4*n)
	for range 200 {
		first := rng.IntN(n)
		k := rng.IntN(n - first + 1)
		share := buf[:4*k]
		generate(share, first)
		for j, v := range share {
			if v != whole[4*first+j] {
				t.Fatalf("seed %d: share of %d requests from %d: number %d is %v, want %v", seed, k, first, j, v, whole[4*first+j])
			}
		}
	}
	// Request i by WORKLOADS.md's formulas (i*15485863 needs 64 bits).
	for _, i := range []int64{0, 1, 180001, 1 << 30} {
		got := generated(int(i), 1)
		want := []float64{
			float64((i*7919)%180001)/1000.0 - 90,
			float64((i*104729)%360001)/1000.0 - 180,
			float64((i*1299709)%180001)/1000.0 - 90,
			float64((i*15485863)%360001)/1000.0 - 180,
		}
		for j := range want {
			if got[j] != want[j] {
				t.Errorf("request %d, number %d: %v, want %v", i, j, got[j], want[j])
			}
		}
	}
}
