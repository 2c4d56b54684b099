package main

import (
	"fmt"

	"github.com/gorun-mpi/gorun/farm"
	"github.com/gorun-mpi/gorun/mpi"
)

// chunkSum is a worker's answer to one chunk of requests: the sum of their
// distances, and who computed it.
type chunkSum struct {
	Km   float64
	Rank int
}

// farmed: rank 0 makes the requests chunk by chunk, each when a worker
// needs one, and farm.RunSeq hands them out on demand: each worker asks
// for the next chunk as soon as it has answered one (and holds one in
// reserve), so faster workers answer more and the load balances itself,
// and rank 0 makes the next chunks while the workers answer the first
// ones. The chunks' sums come back as they are answered and rank 0 adds
// them up. With one rank, rank 0 does all the work itself.
func farmed(world *mpi.Comm, n, chunk int) (float64, error) {
	chunks := func(yield func([]float64) bool) {
		for first := 0; first < n; first += chunk {
			// A fresh chunk each time: the farm may still be sending the
			// last one. A []float64 travels as raw bytes.
			if !yield(generated(first, min(chunk, n-first))) {
				return
			}
		}
	}
	me := world.Rank() // evaluated where the chunk is answered
	answer := func(coords []float64) (chunkSum, error) {
		return chunkSum{sumDistances(coords), me}, nil
	}
	// The sums are added in chunk order, whatever order they come in, so
	// that the total's last digits do not depend on the workers' timing.
	sums := make([]float64, (n+chunk-1)/chunk)
	answered := make([]int, world.Size())
	collect := func(i int, s chunkSum) {
		sums[i] = s.Km
		answered[s.Rank] += min(chunk, n-i*chunk)
	}
	// Each input is a whole chunk already: WithChunk(1) sends them one at
	// a time, as they are.
	err := farm.RunSeq(world, chunks, answer, collect, farm.WithChunk(1))
	if err != nil || world.Rank() != 0 {
		return 0, err
	}
	total := 0.0
	for _, km := range sums {
		total += km
	}
	for r, k := range answered {
		if k > 0 {
			fmt.Printf("rank %d answered %d requests on demand\n", r, k)
		}
	}
	return total, nil
}
