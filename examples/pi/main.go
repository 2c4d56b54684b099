// Command pi computes pi by numerical integration, the classic first
// parallel program: pi = integral from 0 to 1 of 4/(1+x^2) dx, by the
// midpoint rule over -n intervals. Rank r takes intervals r, r+N, r+2N, ...
// (N ranks), adds up its share, and Reduce sums the shares on rank 0.
//
//	go run ./cmd/gorun -np 4 ./examples/pi -n 10000000
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/gorun-mpi/gorun/mpi"
)

func main() {
	n := flag.Int("n", 10_000_000, "number of intervals")
	flag.Parse()
	world, err := mpi.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pi:", err)
		os.Exit(1)
	}
	defer mpi.Finalize()
	if *n < 1 {
		mpi.Abort(2, "pi: -n must be at least 1")
	}
	start := time.Now()

	// Every rank knows n (it came on the command line), so no message is
	// needed to share the work out: each rank picks its own intervals.
	rank, size := world.Rank(), world.Size()
	h := 1 / float64(*n)
	local := 0.0
	for i := rank; i < *n; i += size {
		x := h * (float64(i) + 0.5) // midpoint of interval i
		local += 4 / (1 + x*x)
	}
	local *= h
	fmt.Printf("rank %d: %d intervals, partial sum %.12f\n", rank, (*n-rank+size-1)/size, local)

	// Reduce combines one value per rank with an operator - here
	// mpi.Sum - and gives the result to the root (rank 0).
	pi, err := mpi.Reduce(world, local, mpi.Sum, 0)
	if err != nil {
		mpi.Abort(1, err.Error())
	}
	if rank == 0 {
		fmt.Printf("pi=%.15f error=%.3e intervals=%d ranks=%d seconds=%.3f\n",
			pi, math.Abs(pi-math.Pi), *n, size, time.Since(start).Seconds())
	}
}
