// Command pool-map is multiprocessing.Pool.map with messages:
//
//	with Pool(4) as p: print(p.map(square, [1, 2, 3, 4, 5]))   # [1, 4, 9, 16, 25]
//
// Rank 0 holds the list, Scatter deals it out in contiguous parts (their
// lengths differ by at most one), every rank squares its part, and Gather
// joins the results back in order on rank 0.
//
//	go run ./cmd/gorun -np 3 ./examples/pool-map
//	go run ./cmd/gorun -np 4 ./examples/pool-map -n 20
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gorun-mpi/gorun/mpi"
)

// square is the function mapped over the list.
func square(x int) int { return x * x }

func main() {
	n := flag.Int("n", 5, "map over 1..n")
	flag.Parse()
	world, err := mpi.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pool-map:", err)
		os.Exit(1)
	}
	defer mpi.Finalize()
	if err := run(world, *n); err != nil {
		mpi.Abort(1, err.Error())
	}
}

func run(world *mpi.Comm, n int) error {
	// Only rank 0 has the input; the others pass nil and receive a part.
	var items []int
	if world.Rank() == 0 {
		for i := 1; i <= n; i++ {
			items = append(items, i)
		}
	}
	part, err := mpi.Scatter(world, items, 0)
	if err != nil {
		return err
	}

	// The "worker" half of Pool.map: apply the function to our part.
	results := make([]int, len(part))
	for i, x := range part {
		results[i] = square(x)
	}
	fmt.Printf("rank %d squared %v -> %v\n", world.Rank(), part, results)

	// Gather joins the parts in rank order, which is the input order,
	// so the result lines up with the input as Pool.map's does.
	all, err := mpi.Gather(world, results, 0)
	if err != nil {
		return err
	}
	if world.Rank() == 0 {
		fmt.Printf("map(square, %v) = %v\n", items, all)
	}
	return nil
}
