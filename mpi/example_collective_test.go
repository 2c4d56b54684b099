package mpi_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gorun-mpi/gorun/mpi"
)

// Every rank contributes its rank; every rank gets the total. The built-in
// operators (Sum, Prod, Max, Min) are passed by name and inferred.
func ExampleAllreduce() {
	totals := make([]int, 4)
	runWorld(4, func(world *mpi.Comm) {
		total, err := mpi.Allreduce(world, world.Rank()+1, mpi.Sum)
		if err != nil {
			fmt.Println(err)
		}
		totals[world.Rank()] = total
	})
	fmt.Println(totals)
	// Output: [10 10 10 10]
}

// A user operator need not be commutative: it is applied in rank order.
func ExampleAllreduce_nonCommutative() {
	words := make([]string, 3)
	runWorld(3, func(world *mpi.Comm) {
		mine := []string{"gorun ", "passes ", "messages"}[world.Rank()]
		joined, err := mpi.Allreduce(world, mine, func(a, b string) string { return a + b })
		if err != nil {
			fmt.Println(err)
		}
		words[world.Rank()] = joined
	})
	fmt.Printf("%q\n", words)
	// Output: ["gorun passes messages" "gorun passes messages" "gorun passes messages"]
}

// Element-wise sums of vectors; numeric slices travel as raw bytes.
func ExampleAllreduceSlice() {
	sums := make([][]float64, 3)
	runWorld(3, func(world *mpi.Comm) {
		r := float64(world.Rank())
		sum, err := mpi.AllreduceSlice(world, []float64{r, 10 * r, 100 * r}, mpi.Sum)
		if err != nil {
			fmt.Println(err)
		}
		sums[world.Rank()] = sum
	})
	fmt.Println(sums)
	// Output: [[3 30 300] [3 30 300] [3 30 300]]
}

// A loop of reductions into one buffer, here in place (the result replaces
// each rank's operand, as with MPI_IN_PLACE): nothing is allocated per call
// when the ranks share memory.
func ExampleAllreduceSliceInto() {
	last := make([][]int, 3)
	runWorld(3, func(world *mpi.Comm) {
		v := []int{1, world.Rank() + 1}
		for range 3 {
			if err := mpi.AllreduceSliceInto(world, v, v, mpi.Sum); err != nil {
				fmt.Println(err)
			}
		}
		last[world.Rank()] = v
	})
	fmt.Println(last)
	// Output: [[27 54] [27 54] [27 54]]
}

// Rank 2 broadcasts a configuration to everyone.
func ExampleBcast() {
	type config struct {
		Steps int
		Name  string
	}
	got := make([]config, 3)
	runWorld(3, func(world *mpi.Comm) {
		var cfg config
		if world.Rank() == 2 {
			cfg = config{Steps: 100, Name: "heat"}
		}
		cfg, err := mpi.Bcast(world, cfg, 2)
		if err != nil {
			fmt.Println(err)
		}
		got[world.Rank()] = cfg
	})
	fmt.Println(got)
	// Output: [{100 heat} {100 heat} {100 heat}]
}

// Rank 0 fills a buffer each step and broadcasts it into every rank's
// buffer of the same length, which the ranks keep across steps.
func ExampleBcastInto() {
	seen := make([][]float64, 3)
	runWorld(3, func(world *mpi.Comm) {
		field := make([]float64, 4)
		for step := range 2 {
			if world.Rank() == 0 {
				for i := range field {
					field[i] = float64(10*step + i)
				}
			}
			if err := mpi.BcastInto(world, field, 0); err != nil {
				fmt.Println(err)
			}
		}
		seen[world.Rank()] = field
	})
	fmt.Println(seen)
	// Output: [[10 11 12 13] [10 11 12 13] [10 11 12 13]]
}

// Rank 0 deals out ten items: the parts differ in length by at most one,
// the longer ones first. Each rank squares its part and rank 0 gathers the
// results in rank order (a Pool.map of squares).
func ExampleScatter() {
	var parts [3]string
	var gathered []int
	runWorld(3, func(world *mpi.Comm) {
		var items []int
		if world.Rank() == 0 {
			items = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
		}
		part, err := mpi.Scatter(world, items, 0)
		if err != nil {
			fmt.Println(err)
		}
		parts[world.Rank()] = fmt.Sprint(part)
		for i, x := range part {
			part[i] = x * x
		}
		all, err := mpi.Gather(world, part, 0)
		if err != nil {
			fmt.Println(err)
		}
		if world.Rank() == 0 {
			gathered = all
		}
	})
	fmt.Println(strings.Join(parts[:], " "))
	fmt.Println(gathered)
	// Output:
	// [1 2 3 4] [5 6 7] [8 9 10]
	// [1 4 9 16 25 36 49 64 81 100]
}

// Every rank learns every rank's part.
func ExampleAllgather() {
	seen := make([][]string, 3)
	runWorld(3, func(world *mpi.Comm) {
		all, err := mpi.Allgather(world, []string{fmt.Sprint("r", world.Rank())})
		if err != nil {
			fmt.Println(err)
		}
		seen[world.Rank()] = all
	})
	fmt.Println(seen)
	// Output: [[r0 r1 r2] [r0 r1 r2] [r0 r1 r2]]
}

// Each rank sends a different part to every rank.
func ExampleAlltoall() {
	got := make([][][]string, 3)
	runWorld(3, func(world *mpi.Comm) {
		parts := make([][]string, world.Size())
		for j := range parts {
			parts[j] = []string{fmt.Sprintf("%d>%d", world.Rank(), j)}
		}
		in, err := mpi.Alltoall(world, parts)
		if err != nil {
			fmt.Println(err)
		}
		got[world.Rank()] = in
	})
	for r, in := range got {
		fmt.Println("rank", r, "got", in)
	}
	// Output:
	// rank 0 got [[0>0] [1>0] [2>0]]
	// rank 1 got [[0>1] [1>1] [2>1]]
	// rank 2 got [[0>2] [1>2] [2>2]]
}

// Only the root gets the reduction; the others get the zero value.
func ExampleReduce() {
	got := make([]float64, 4)
	runWorld(4, func(world *mpi.Comm) {
		largest, err := mpi.Reduce(world, float64(world.Rank())*1.5, mpi.Max, 1)
		if err != nil {
			fmt.Println(err)
		}
		got[world.Rank()] = largest
	})
	fmt.Println(got)
	// Output: [0 4.5 0 0]
}

// Rank i gets the sum of the values of ranks 0 to i.
func ExampleScan() {
	got := make([]int, 5)
	runWorld(5, func(world *mpi.Comm) {
		prefix, err := mpi.Scan(world, world.Rank()+1, mpi.Sum)
		if err != nil {
			fmt.Println(err)
		}
		got[world.Rank()] = prefix
	})
	fmt.Println(got)
	// Output: [1 3 6 10 15]
}

// Slices of different lengths are an error on every rank, never a hang.
func ExampleAllreduceSlice_lengthMismatch() {
	errs := make([]error, 3)
	runWorld(3, func(world *mpi.Comm) {
		v := make([]int, 2+world.Rank()/2) // rank 2 has 3 elements
		_, errs[world.Rank()] = mpi.AllreduceSlice(world, v, mpi.Sum)
	})
	for _, err := range errs {
		fmt.Println(errors.Is(err, mpi.ErrLengthMismatch), errors.Is(err, mpi.ErrCollectiveMismatch))
	}
	fmt.Println(errs[0])
	// Output:
	// true true
	// true true
	// true true
	// mpi: rank 0 AllreduceSlice: rank 1 failed: collective mismatch: rank 0 called AllreduceSlice(2 elements) while rank 2 called AllreduceSlice(3 elements)
}

// Ranks in different collectives fail instead of hanging: rank 0 calls
// Barrier while the others broadcast from rank 1. Rank 1, the root, may
// send and return; it then learns of the mismatch in its next collective
// call. Rank 0's error reads, depending on which rank found it first,
//
//	mpi: rank 0 Barrier: collective mismatch: rank 0 called Barrier while rank 1 called Bcast(root 1)
//
// or the same with the two calls the other way round.
func ExampleErrCollectiveMismatch() {
	errs := make([]error, 3)
	runWorld(3, func(world *mpi.Comm) {
		var err error
		if world.Rank() == 0 {
			err = world.Barrier()
		} else if _, err = mpi.Bcast(world, "hello", 1); err == nil {
			err = world.Barrier()
		}
		errs[world.Rank()] = err
	})
	text := errs[0].Error()
	fmt.Println(errors.Is(errs[0], mpi.ErrCollectiveMismatch), errs[1] != nil, errs[2] != nil)
	fmt.Println(strings.HasPrefix(text, "mpi: rank 0 Barrier: collective mismatch: "),
		strings.Contains(text, "rank 0 called Barrier"), strings.Contains(text, "rank 1 called Bcast(root 1)"))
	// Output:
	// true true true
	// true true true
}

// Every rank's block of two, gathered in rank order into the root's
// buffer, which a loop would keep from call to call.
func ExampleGatherInto() {
	var got []int
	runWorld(3, func(world *mpi.Comm) {
		r := world.Rank()
		var out []int
		if r == 0 {
			out = make([]int, 2*world.Size())
		}
		if err := mpi.GatherInto(world, []int{r, 10 * r}, out, 0); err != nil {
			fmt.Println(err)
		}
		if r == 0 {
			got = out
		}
	})
	fmt.Println(got)
	// Output: [0 0 1 10 2 20]
}

// Every rank gets every rank's block, in rank order, in its own buffer.
func ExampleAllgatherInto() {
	outs := make([][]float64, 3)
	runWorld(3, func(world *mpi.Comm) {
		out := make([]float64, world.Size())
		if err := mpi.AllgatherInto(world, []float64{float64(world.Rank()) / 2}, out); err != nil {
			fmt.Println(err)
		}
		outs[world.Rank()] = out
	})
	fmt.Println(outs)
	// Output: [[0 0.5 1] [0 0.5 1] [0 0.5 1]]
}

// Rank i sends 10*i+j to rank j: a transpose, in flat buffers of one
// block per rank, as MPI_Alltoall.
func ExampleAlltoallInto() {
	recvs := make([][]int, 3)
	runWorld(3, func(world *mpi.Comm) {
		p, r := world.Size(), world.Rank()
		send, recv := make([]int, p), make([]int, p)
		for j := range send {
			send[j] = 10*r + j
		}
		if err := mpi.AlltoallInto(world, send, recv); err != nil {
			fmt.Println(err)
		}
		recvs[r] = recv
	})
	fmt.Println(recvs)
	// Output: [[0 10 20] [1 11 21] [2 12 22]]
}

// The root's data cut into one block of two per rank.
func ExampleScatterInto() {
	outs := make([][]string, 3)
	runWorld(3, func(world *mpi.Comm) {
		var data []string
		if world.Rank() == 1 {
			data = []string{"a", "b", "c", "d", "e", "f"}
		}
		out := make([]string, 2)
		if err := mpi.ScatterInto(world, data, out, 1); err != nil {
			fmt.Println(err)
		}
		outs[world.Rank()] = out
	})
	fmt.Println(outs)
	// Output: [[a b] [c d] [e f]]
}

// A buffer of the wrong length is an error naming the rank, the call and
// the lengths, matchable with errors.Is.
func ExampleGatherInto_wrongLength() {
	runWorld(2, func(world *mpi.Comm) {
		out := make([]int, 3) // 2 ranks of 2 elements need 4
		err := mpi.GatherInto(world, []int{1, 2}, out, 0)
		if world.Rank() == 0 {
			fmt.Println(err)
			fmt.Println(errors.Is(err, mpi.ErrLengthMismatch))
		}
	})
	// Output:
	// mpi: rank 0 GatherInto: slice lengths differ between ranks: out has 3 elements, want 4 (2 ranks of 2 elements)
	// true
}

// Element-wise maxima, into the root's buffer.
func ExampleReduceSliceInto() {
	var got []int
	runWorld(3, func(world *mpi.Comm) {
		r := world.Rank()
		out := make([]int, 3)
		if err := mpi.ReduceSliceInto(world, []int{r, 5 - r, 7}, out, mpi.Max, 2); err != nil {
			fmt.Println(err)
		}
		if r == 2 {
			got = out
		}
	})
	fmt.Println(got)
	// Output: [2 5 7]
}
