// Command ring passes a token around a ring of ranks: rank 0 starts it,
// every rank adds its own rank number and hands it to the next, and after
// -laps laps the token comes back to rank 0 holding laps * (0+1+...+N-1).
//
// Then every rank passes values round at once with Sendrecv, which sends
// to the right neighbour and receives from the left one in a single call,
// so the ring cannot jam with every rank sending and none receiving.
//
//	go run ./cmd/gorun -np 4 ./examples/ring
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gorun-mpi/gorun/mpi"
)

// Tags tell the two parts' messages apart; any non-negative numbers do.
const (
	tokenTag = 1
	shiftTag = 2
)

func main() {
	laps := flag.Int("laps", 1, "how many times the token goes round")
	flag.Parse()
	if err := run(*laps); err != nil {
		fmt.Fprintln(os.Stderr, "ring:", err)
		mpi.Abort(1, err.Error())
	}
}

func run(laps int) error {
	world, err := mpi.Init()
	if err != nil {
		return err
	}
	defer mpi.Finalize()
	rank, size := world.Rank(), world.Size()
	right := (rank + 1) % size       // where the token goes next
	left := (rank - 1 + size) % size // where it comes from

	// Part 1: one token goes round, one hop at a time. Only the rank
	// holding the token is busy; the others wait in Recv.
	token := 0
	for lap := 1; lap <= laps; lap++ {
		if rank != 0 {
			if _, err := world.Recv(&token, left, tokenTag); err != nil {
				return err
			}
			fmt.Printf("rank %d got token %d from rank %d\n", rank, token, left)
		}
		token += rank
		if size == 1 {
			continue // a ring of one: the token never leaves
		}
		if err := world.Send(token, right, tokenTag); err != nil {
			return err
		}
		if rank == 0 {
			if _, err := world.Recv(&token, left, tokenTag); err != nil {
				return err
			}
			fmt.Printf("lap %d: token is back at rank 0 with value %d\n", lap, token)
		}
	}

	// Part 2: every rank passes at the same time. Each rank sends the
	// value it last received to the right and receives a new one from the
	// left, size-1 times; adding up what passes by, every rank ends with
	// the sum of all ranks. If every rank called Send then Recv, each
	// would wait for its neighbour to receive - a cycle of waits, the
	// classic deadlock once messages are large. Sendrecv does both halves
	// together, so the ring always moves.
	passing, sum := rank, rank
	for step := 1; step < size; step++ {
		if _, err := world.Sendrecv(passing, right, shiftTag, &passing, left, shiftTag); err != nil {
			return err
		}
		sum += passing
	}
	fmt.Printf("rank %d: sum of all ranks = %d\n", rank, sum)

	if rank == 0 {
		want := size * (size - 1) / 2
		fmt.Printf("ranks=%d laps=%d token=%d expected=%d\n", size, laps, token, laps*want)
	}
	return nil
}
