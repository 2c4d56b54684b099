package farm_test

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/gorun-mpi/gorun/comm"
	"github.com/gorun-mpi/gorun/farm"
	"github.com/gorun-mpi/gorun/mpi"
)

// Pool.map in SPMD style: every rank calls Map, rank 0 gets the squares in
// input order. Run under gorun (gorun -np 4 ./prog), ranks 1 to 3 compute
// them; run alone, as here, rank 0 computes them itself.
func ExampleMap() {
	world, err := mpi.Init() // a program calls mpi.Finalize before it exits
	if err != nil {
		fmt.Println(err)
		return
	}
	square := func(n int) (int, error) { return n * n, nil }
	squares, err := farm.Map(world, []int{1, 2, 3, 4, 5}, square)
	if err != nil {
		fmt.Println(err)
		return
	}
	if world.Rank() == 0 {
		fmt.Println(squares)
	}
	// Output: [1 4 9 16 25]
}

// Parallel Python's submit(func, args, callback=...): each result is
// handled on rank 0 as soon as it arrives (in the order the workers finish,
// which with one rank is the input order).
func ExampleRun() {
	world, err := mpi.Init()
	if err != nil {
		fmt.Println(err)
		return
	}
	words := []string{"ring", "farm", "scatter"}
	total := 0
	err = farm.Run(world, words, func(w string) (int, error) { return len(w), nil },
		func(i int, n int) {
			fmt.Printf("%s: %d letters\n", words[i], n)
			total += n
		})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("total", total)
	// Output:
	// ring: 4 letters
	// farm: 4 letters
	// scatter: 7 letters
	// total 15
}

// A task that fails ends the farm: the error names the task and the rank,
// and wraps the task's own error.
func ExampleTaskError() {
	world, err := mpi.Init()
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = farm.Map(world, []string{"1", "2", "three", "4"}, strconv.Atoi)
	fmt.Println(err)
	var te *farm.TaskError
	fmt.Println(errors.As(err, &te), te.Index, errors.Is(err, strconv.ErrSyntax))
	// Output:
	// farm: task 2 on rank 0: strconv.Atoi: parsing "three": invalid syntax
	// true 2 true
}

// Pool.imap's lazily consumed iterable: rank 0 produces each batch only
// when a worker needs one, so producing overlaps with computing and only the
// batches in flight are held. Here, batches of requests made on demand.
func ExampleRunSeq() {
	world, err := mpi.Init()
	if err != nil {
		fmt.Println(err)
		return
	}
	batches := func(yield func([]float64) bool) {
		for first := 0; first < 12; first += 4 {
			batch := make([]float64, 4) // a fresh batch each time
			for k := range batch {
				batch[k] = float64(first + k)
			}
			if !yield(batch) {
				return // the farm failed: produce no more
			}
		}
	}
	sum := func(b []float64) (float64, error) {
		s := 0.0
		for _, x := range b {
			s += x
		}
		return s, nil
	}
	total := 0.0
	err = farm.RunSeq(world, batches, sum, func(i int, s float64) {
		fmt.Printf("batch %d: %g\n", i, s)
		total += s
	}, farm.WithChunk(1))
	fmt.Println("total", total, err)
	// Output:
	// batch 0: 6
	// batch 1: 22
	// batch 2: 38
	// total 66 <nil>
}

// Inputs that are batches already (here, four coordinates per request)
// travel one per message with WithChunk(1): a []float64 goes as raw bytes.
func ExampleWithChunk() {
	world, err := mpi.Init()
	if err != nil {
		fmt.Println(err)
		return
	}
	batches := [][]float64{{1, 2, 3, 4}, {5, 6, 7, 8, 9, 10, 11, 12}}
	sum := func(b []float64) (float64, error) {
		s := 0.0
		for _, x := range b {
			s += x
		}
		return s, nil
	}
	sums, err := farm.Map(world, batches, sum, farm.WithChunk(1))
	fmt.Println(sums, err)
	// Output: [10 68] <nil>
}

// Three ranks in one process (over the in-memory transport, as gorun runs
// them in three processes): rank 0 hands out the work, ranks 1 and 2 do it.
func ExampleMap_ranks() {
	net := comm.NewNetwork(3)
	var wg sync.WaitGroup
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			world, err := mpi.Init(mpi.WithTransport(net.Transport(r)))
			if err != nil {
				fmt.Println(err)
				return
			}
			defer world.Finalize()
			type squared struct{ N, By int }
			me := world.Rank() // where fn runs
			out, err := farm.Map(world, []int{1, 2, 3, 4, 5, 6}, func(n int) (squared, error) {
				return squared{n * n, me}, nil
			})
			if err != nil || world.Rank() != 0 {
				return
			}
			var squares, by []int
			for _, s := range out {
				squares = append(squares, s.N)
				if !slices.Contains(by, s.By) {
					by = append(by, s.By)
				}
			}
			slices.Sort(by)
			fmt.Println(squares, "computed by ranks", by)
		}()
	}
	wg.Wait()
	// Output: [1 4 9 16 25 36] computed by ranks [1 2]
}
