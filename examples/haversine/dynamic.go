package main

import (
	"fmt"

	"github.com/gorun-mpi/gorun/mpi"
)

// Tags of the master/worker conversation.
const (
	tagChunk  = 1 // master -> worker: a chunk of requests (empty: no more work)
	tagResult = 2 // worker -> master: the sum for the last chunk (or 0 to ask for the first)
)

// masterWorker: rank 0 keeps the requests and gives a chunk to whichever
// worker reports in; a worker's report carries the sum of its previous
// chunk. Fast workers come back sooner and so get more chunks: the load
// balances itself. With one rank, rank 0 does all the work itself.
func masterWorker(world *mpi.Comm, n, chunk int) (float64, error) {
	if world.Size() == 1 {
		return sumDistances(generated(0, n)), nil
	}
	if world.Rank() != 0 {
		return 0, worker(world)
	}
	var total float64
	next, active := 0, world.Size()-1
	handed := make([]int, world.Size())
	for active > 0 {
		var sum float64
		st, err := world.Recv(&sum, mpi.AnySource, tagResult)
		if err != nil {
			return 0, err
		}
		total += sum // a result, handled as it arrives
		if next >= n {
			// Nothing left: an empty chunk tells the worker to stop.
			if err := world.Send([]float64{}, st.Source, tagChunk); err != nil {
				return 0, err
			}
			active--
			continue
		}
		size := min(chunk, n-next)
		if err := world.Send(generated(next, size), st.Source, tagChunk); err != nil {
			return 0, err
		}
		handed[st.Source] += size
		next += size
	}
	for r := 1; r < world.Size(); r++ {
		fmt.Printf("master gave rank %d %d requests\n", r, handed[r])
	}
	return total, nil
}

// worker asks for work, answers it, and asks again with the answer.
func worker(world *mpi.Comm) error {
	sum := 0.0 // the first report carries nothing
	for {
		if err := world.Send(sum, 0, tagResult); err != nil {
			return err
		}
		var coords []float64
		if _, err := world.Recv(&coords, 0, tagChunk); err != nil {
			return err
		}
		if len(coords) == 0 {
			return nil
		}
		sum = sumDistances(coords)
	}
}
