package mpitest_test

import (
	"errors"
	"fmt"

	"github.com/gorun-mpi/gorun/mpi"
	"github.com/gorun-mpi/gorun/mpi/mpitest"
)

// Four ranks sum their numbers over Unix sockets; each rank's error would
// come back named.
func ExampleDo() {
	sums := make([]int, 4)
	err := mpitest.Do(4, func(world *mpi.Comm) error {
		sum, err := mpi.Allreduce(world, world.Rank()+1, mpi.Sum)
		sums[world.Rank()] = sum
		return err
	}, mpitest.Transport(mpitest.Unix))
	fmt.Println(sums, err)
	// Output: [10 10 10 10] <nil>
}

// A rank's error names the rank, and errors.Is sees the cause.
func ExampleDo_failure() {
	err := mpitest.Do(3, func(world *mpi.Comm) error {
		if world.Rank() == 2 {
			return world.Send("x", 5, 0) // there is no rank 5
		}
		return nil
	})
	fmt.Println(err)
	fmt.Println(errors.Is(err, mpi.ErrRank))
	// Output:
	// rank 2: mpi: rank 2 Send(to 5, tag 0): rank out of range: destination 5 is not in [0, 3)
	// true
}
