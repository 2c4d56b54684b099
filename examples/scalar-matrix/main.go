// Command scalar-matrix multiplies every element of an R x C matrix by a
// scalar k, the workload of the project's WORKLOADS.md: element (i, j) is
// i*C + j, so the answer k*(i*C + j) can be checked anywhere.
//
// Rank 0 builds the matrix and Scatter deals its rows out (row counts
// differ by at most one; with more ranks than rows some ranks get none),
// every rank multiplies its rows, and Gather brings them back in order to
// rank 0, which checks every element and prints a checksum.
//
//	go run ./cmd/gorun -np 4 ./examples/scalar-matrix -rows 1000 -cols 1000 -k 3
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/gorun-mpi/gorun/mpi"
)

// row is one matrix row. Scatter and Gather move whole rows.
type row []float64

func main() {
	rows := flag.Int("rows", 6, "rows R")
	cols := flag.Int("cols", 4, "columns C")
	k := flag.Float64("k", 2.5, "the scalar")
	flag.Parse()
	world, err := mpi.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scalar-matrix:", err)
		os.Exit(1)
	}
	defer mpi.Finalize()
	if *rows < 0 || *cols < 0 {
		mpi.Abort(2, "scalar-matrix: -rows and -cols must not be negative")
	}
	if err := run(world, *rows, *cols, *k); err != nil {
		mpi.Abort(1, err.Error())
	}
}

func run(world *mpi.Comm, rows, cols int, k float64) error {
	start := time.Now()
	var matrix []row
	if world.Rank() == 0 {
		matrix = make([]row, rows)
		for i := range matrix {
			matrix[i] = make(row, cols)
			for j := range matrix[i] {
				matrix[i][j] = float64(i*cols + j)
			}
		}
	}

	// Each rank gets a block of consecutive rows.
	mine, err := mpi.Scatter(world, matrix, 0)
	if err != nil {
		return err
	}
	for _, r := range mine {
		for j := range r {
			r[j] *= k
		}
	}
	fmt.Printf("rank %d multiplied %d rows\n", world.Rank(), len(mine))

	// Gather joins the blocks in rank order: the rows come back in place.
	result, err := mpi.Gather(world, mine, 0)
	if err != nil {
		return err
	}
	if world.Rank() != 0 {
		return nil
	}
	checksum, wrong := 0.0, 0
	for i, r := range result {
		for j, x := range r {
			if x != k*float64(i*cols+j) {
				wrong++
			}
			checksum += x
		}
	}
	if len(result) != rows {
		return fmt.Errorf("got %d rows back, want %d", len(result), rows)
	}
	if wrong > 0 {
		return fmt.Errorf("%d elements are wrong", wrong)
	}
	fmt.Printf("%dx%d matrix times %g: verified, checksum=%.1f ranks=%d seconds=%.3f\n",
		rows, cols, k, checksum, world.Size(), time.Since(start).Seconds())
	return nil
}
