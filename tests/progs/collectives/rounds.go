package main

import (
	"fmt"
	"slices"

	"github.com/gorun-mpi/gorun/mpi"
)

// rounds runs n rounds of the collectives whose phases on a host go
// through its shared memory (Allreduce, AllreduceSlice and
// AllreduceSliceInto, small and large, Bcast, Reduce, ReduceSlice,
// Barrier), each result checked, and returns the exit status: 0, or 1
// after printing "rank R FAIL rounds: why". With GORUN_TEST_FRAMES=1 the
// ranks then report the frames they sent (mpi), which the tests compare
// between runs of different n.
func rounds(w *mpi.Comm, n int) int {
	if err := runRounds(w, n); err != nil {
		fmt.Printf("rank %d FAIL rounds: %v\n", w.Rank(), err)
		return 1
	}
	fmt.Printf("rank %d ok rounds %d\n", w.Rank(), n)
	return 0
}

func runRounds(w *mpi.Comm, n int) error {
	me, np := w.Rank(), w.Size()
	small := make([]int64, 100)
	large := make([]int64, 300_000) // 2.4 MB
	into := make([]int64, len(large))
	for i := range n {
		sum, err := mpi.Allreduce(w, me+i, mpi.Sum)
		if want := np*(np-1)/2 + np*i; err != nil || sum != want {
			return fmt.Errorf("round %d: Allreduce %d, %v; want %d", i, sum, err, want)
		}
		for _, v := range [][]int64{small, large} {
			for j := range v {
				v[j] = int64(me*j + i)
			}
			got, err := mpi.AllreduceSlice(w, v, mpi.Sum)
			if err != nil {
				return fmt.Errorf("round %d: AllreduceSlice of %d: %w", i, len(v), err)
			}
			if err := mpi.AllreduceSliceInto(w, v, into[:len(v)], mpi.Sum); err != nil {
				return fmt.Errorf("round %d: AllreduceSliceInto of %d: %w", i, len(v), err)
			}
			for j := range v {
				want := int64(np*(np-1)/2*j + np*i)
				if got[j] != want || into[j] != want {
					return fmt.Errorf("round %d: AllreduceSlice(Into) of %d: element %d is %d and %d, want %d", i, len(v), j, got[j], into[j], want)
				}
			}
		}
		root := (i + np - 1) % np
		var value []int64
		if me == root {
			value = slices.Clone(large[:1000+i])
		}
		got, err := mpi.Bcast(w, value, root)
		if err != nil || len(got) != 1000+i || got[1] != int64(root+i) {
			return fmt.Errorf("round %d: Bcast from %d: %d elements, %v", i, root, len(got), err)
		}
		red, err := mpi.Reduce(w, int64(me), mpi.Max, root)
		if err != nil || (me == root && red != int64(np-1)) {
			return fmt.Errorf("round %d: Reduce to %d: %d, %v", i, root, red, err)
		}
		part, err := mpi.ReduceSlice(w, small, mpi.Sum, root)
		if err != nil || (me == root && part[2] != int64(np*(np-1)+np*i)) {
			return fmt.Errorf("round %d: ReduceSlice to %d: %v, %v", i, root, part, err)
		}
		if err := w.Barrier(); err != nil {
			return fmt.Errorf("round %d: Barrier: %w", i, err)
		}
	}
	return nil
}
