package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/gorun-mpi/gorun/mpi"
)

// mismatch has the ranks of a communicator (COMM: "world", the world
// itself, whose Barrier, Bcast and AllreduceSlice go through shared memory
// on the local transport; "split", a communicator from Split; "context",
// the world bound to a Go context, whose collectives go by messages) call
// mismatched collectives (MODE):
//
//	barrier-bcast      rank 0 Barrier, the others Bcast from root 1
//	bcast-roots        rank 0 Bcast from root 0, the others from root 1
//	allreduce-lengths  AllreduceSlice, the last rank with one element more
//	reduce-allreduce   rank 0 Reduce to root 0, the others Allreduce
//	allreduce-types    Allreduce of a string on rank 1, of a number on the
//	                   others (shared memory against messages on the world)
//	gatherinto-lengths GatherInto to root 0, the last rank's part with one
//	                   element more
//	alltoallinto-lengths AlltoallInto, the last rank's blocks one element
//	                   longer
//
// A rank whose call returns without error makes another collective call on
// the communicator (a Barrier), which must fail. Each rank prints
// "rank R mismatch: IS: ERR" (IS: whether the error wraps
// mpi.ErrCollectiveMismatch) and tells rank 0, which lets every rank go
// once all have reported, so that no rank exits before; the status is 3.
func mismatch(world *mpi.Comm, mode, comm string) int {
	c := world
	switch comm {
	case "split":
		sub, err := world.Split(0, world.Rank())
		if err != nil {
			fmt.Fprintln(os.Stderr, "split:", err)
			return 1
		}
		c = sub
	case "context":
		c = world.WithContext(context.Background())
	}
	me, last := c.Rank(), c.Size()-1
	var err error
	switch mode {
	case "barrier-bcast":
		if me == 0 {
			err = c.Barrier()
		} else {
			_, err = mpi.Bcast(c, 42, 1)
		}
	case "bcast-roots":
		root := 1
		if me == 0 {
			root = 0
		}
		_, err = mpi.Bcast(c, []float64{1, 2, 3}, root)
	case "allreduce-lengths":
		v := make([]float64, 10)
		if me == last {
			v = append(v, 1)
		}
		_, err = mpi.AllreduceSlice(c, v, mpi.Sum)
	case "reduce-allreduce":
		if me == 0 {
			_, err = mpi.Reduce(c, 1, mpi.Sum, 0)
		} else {
			_, err = mpi.Allreduce(c, 1, mpi.Sum)
		}
	case "allreduce-types":
		if me == 1 {
			_, err = mpi.Allreduce(c, "x", func(a, b string) string { return a + b })
		} else {
			_, err = mpi.Allreduce(c, 1.5, mpi.Sum)
		}
	case "gatherinto-lengths":
		part := make([]float64, 10)
		if me == last {
			part = append(part, 1)
		}
		err = mpi.GatherInto(c, part, make([]float64, 10*c.Size()), 0)
	case "alltoallinto-lengths":
		n := 10
		if me == last {
			n++
		}
		send := make([]float64, n*c.Size())
		err = mpi.AlltoallInto(c, send, make([]float64, len(send)))
	default:
		fmt.Fprintln(os.Stderr, "unknown mismatch mode", mode)
		return 2
	}
	if err == nil {
		err = c.Barrier()
		if err == nil {
			err = errors.New("no error")
		}
	}
	fmt.Printf("rank %d mismatch: %v: %v\n", world.Rank(), errors.Is(err, mpi.ErrCollectiveMismatch), err)
	// Rank 0 collects every report, then lets the others go: a rank that
	// exits early would end the job before a slow one reports.
	if world.Rank() == 0 {
		for range world.Size() - 1 {
			var done bool
			if _, err := world.Recv(&done, mpi.AnySource, 99); err != nil {
				fmt.Fprintln(os.Stderr, "collecting the reports:", err)
			}
		}
		for q := 1; q < world.Size(); q++ {
			if err := world.Send(true, q, 100); err != nil {
				fmt.Fprintln(os.Stderr, "letting the others go:", err)
			}
		}
	} else {
		var done bool
		if err := world.Send(true, 0, 99); err != nil {
			fmt.Fprintln(os.Stderr, "reporting:", err)
		}
		if _, err := world.Recv(&done, 0, 100); err != nil {
			fmt.Fprintln(os.Stderr, "waiting for rank 0:", err)
		}
	}
	fmt.Fprintf(os.Stderr, "collectives: rank %d: mismatched collectives\n", world.Rank())
	return 3
}
