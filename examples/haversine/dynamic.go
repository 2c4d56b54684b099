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

// farmed: rank 0 cuts the requests into chunks of chunk requests and
// farm.Map hands them out on demand: each worker asks for the next chunk
// as soon as it has answered one (and holds one in reserve), so faster
// workers answer more and the load balances itself. The chunks' sums come
// back in chunk order and rank 0 adds them up. With one rank, rank 0 does
// all the work itself.
func farmed(world *mpi.Comm, n, chunk int) (float64, error) {
	var chunks [][]float64
	if world.Rank() == 0 {
		coords := generated(0, n)
		for first := 0; first < n; first += chunk {
			last := min(first+chunk, n)
			chunks = append(chunks, coords[4*first:4*last]) // a []float64 travels as raw bytes
		}
	}
	me := world.Rank() // evaluated where the chunk is answered
	answer := func(coords []float64) (chunkSum, error) {
		return chunkSum{sumDistances(coords), me}, nil
	}
	// Each input is a whole chunk already: WithChunk(1) sends them one at
	// a time, as they are.
	sums, err := farm.Map(world, chunks, answer, farm.WithChunk(1))
	if err != nil || world.Rank() != 0 {
		return 0, err
	}
	total := 0.0
	answered := make([]int, world.Size())
	for i, s := range sums {
		total += s.Km
		answered[s.Rank] += len(chunks[i]) / 4
	}
	for r, k := range answered {
		if k > 0 {
			fmt.Printf("rank %d answered %d requests on demand\n", r, k)
		}
	}
	return total, nil
}
