package mpi_test

import (
	"errors"
	"fmt"

	"github.com/gorun-mpi/gorun/mpi"
	"github.com/gorun-mpi/gorun/mpi/mpitest"
)

// runWorld runs body on size ranks in this process with mpitest (over the
// in-memory transport), as gorun runs them in separate processes, and
// prints the error of any rank that failed.
func runWorld(size int, body func(world *mpi.Comm)) {
	err := mpitest.Do(size, func(world *mpi.Comm) error {
		body(world)
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
}

// Rank 0 sends a slice to rank 1, which receives it with its status.
func ExampleComm_Send() {
	runWorld(2, func(world *mpi.Comm) {
		switch world.Rank() {
		case 0:
			if err := world.Send([]float64{1.5, 2.5}, 1, 7); err != nil {
				fmt.Println(err)
			}
		case 1:
			var v []float64
			st, err := world.Recv(&v, 0, 7)
			fmt.Println(v, st.Source, st.Tag, st.Size, err)
		}
	})
	// Output: [1.5 2.5] 0 7 16 <nil>
}

// A receive into the wrong type fails with a clear error and consumes
// only that message.
func ExampleComm_Recv_typeMismatch() {
	runWorld(2, func(world *mpi.Comm) {
		switch world.Rank() {
		case 0:
			world.Send("hello", 1, 3)
			world.Send(42, 1, 3)
		case 1:
			var n int
			_, err := world.Recv(&n, 0, 3)
			fmt.Println(err)
			fmt.Println(errors.Is(err, mpi.ErrTypeMismatch))
			_, err = world.Recv(&n, 0, 3)
			fmt.Println(n, err)
		}
	})
	// Output:
	// mpi: rank 1 Recv(from 0, tag 3): type mismatch: cannot decode string into *int: msgpack: invalid code=a5 decoding int64
	// true
	// 42 <nil>
}

// Every rank passes a token to its right neighbour around a ring with
// Sendrecv, which cannot deadlock.
func ExampleComm_Sendrecv() {
	results := make([]string, 4)
	runWorld(4, func(world *mpi.Comm) {
		right := (world.Rank() + 1) % world.Size()
		left := (world.Rank() + world.Size() - 1) % world.Size()
		var got int
		st, err := world.Sendrecv(world.Rank()*10, right, 0, &got, left, 0)
		results[world.Rank()] = fmt.Sprintf("rank %d got %d from %d (%v)", world.Rank(), got, st.Source, err)
	})
	for _, line := range results {
		fmt.Println(line)
	}
	// Output:
	// rank 0 got 30 from 3 (<nil>)
	// rank 1 got 0 from 0 (<nil>)
	// rank 2 got 10 from 1 (<nil>)
	// rank 3 got 20 from 2 (<nil>)
}

// Rank 0 collects one answer from every worker in whatever order they
// arrive, with AnySource, and WaitAll completes non-blocking sends.
func ExampleComm_Irecv() {
	runWorld(3, func(world *mpi.Comm) {
		if world.Rank() != 0 {
			req := world.Isend(world.Rank()*world.Rank(), 0, 1)
			if err := mpi.WaitAll(req); err != nil {
				fmt.Println(err)
			}
			return
		}
		sum := 0
		for i := 1; i < world.Size(); i++ {
			var sq int
			if _, err := world.Irecv(&sq, mpi.AnySource, 1).Wait(); err != nil {
				fmt.Println(err)
			}
			sum += sq
		}
		fmt.Println("sum of squares:", sum)
	})
	// Output: sum of squares: 5
}
