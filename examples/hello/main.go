// Command hello is the smallest gorun program: every rank says who it is,
// and rank 0 collects every rank's name to show that they all took part.
//
//	go run ./cmd/gorun -np 4 ./examples/hello
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/gorun-mpi/gorun/mpi"
)

func main() {
	// Init joins the job gorun started. Without gorun (go run
	// ./examples/hello) it gives a world of one rank.
	world, err := mpi.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
	// Finalize leaves the job cleanly; gorun treats a rank that exits
	// without it as failed.
	defer mpi.Finalize()

	host, _ := os.Hostname()
	fmt.Printf("hello from rank %d of %d (pid %d on %s)\n", world.Rank(), world.Size(), os.Getpid(), host)

	// Each rank is a separate process: they share no memory. To learn
	// about the others, rank 0 must be sent something. Gather collects
	// one part from every rank, in rank order.
	names, err := mpi.Gather(world, []string{fmt.Sprintf("rank%d", world.Rank())}, 0)
	if err != nil {
		mpi.Abort(1, err.Error())
	}
	if world.Rank() == 0 {
		fmt.Printf("rank 0 heard from %d ranks: %s\n", len(names), strings.Join(names, " "))
	}
}
