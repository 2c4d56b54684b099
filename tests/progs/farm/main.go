// Command farm is the integration tests' program for package farm: every
// rank calls farm.Run or farm.Map as -mode says, and rank 0 prints what
// happened, for the tests to check.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/gorun-mpi/gorun/farm"
	"github.com/gorun-mpi/gorun/mpi"
)

// done is a task's output: the input's square and the rank that ran it.
type done struct {
	Square, Rank int
}

func main() {
	mode := flag.String("mode", "order", "order, balance, error or exit")
	n := flag.Int("n", 1000, "number of tasks")
	chunk := flag.Int("chunk", 0, "farm.WithChunk (0: automatic)")
	flag.Parse()
	world, err := mpi.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	me := world.Rank()
	fmt.Fprintf(os.Stderr, "pid %d %d\n", me, os.Getpid())
	inputs := make([]int, *n)
	for i := range inputs {
		inputs[i] = i
	}
	ran := 0 // tasks this rank ran
	fn := func(i int) (done, error) {
		ran++
		switch *mode {
		case "balance": // task 0 is slow; the others take 20 ms
			if i == 0 {
				time.Sleep(1500 * time.Millisecond)
			} else {
				time.Sleep(20 * time.Millisecond)
			}
		case "error":
			if i == 17 {
				return done{}, fmt.Errorf("no data for input %d", i)
			}
		case "exit": // rank 2 dies in its third task
			time.Sleep(10 * time.Millisecond)
			if me == 2 && ran == 3 {
				os.Exit(3)
			}
		}
		return done{i * i, me}, nil
	}
	start := time.Now()
	perRank := make([]int, world.Size())
	slow := -1
	inOrder := true
	next := 0
	err = farm.Run(world, inputs, fn, func(i int, d done) {
		perRank[d.Rank]++
		if i == 0 {
			slow = d.Rank
		}
		if d.Square != i*i {
			fmt.Printf("wrong result for task %d: %d\n", i, d.Square)
		}
		if i != next {
			inOrder = false
		}
		next++
	}, farm.WithChunk(*chunk))
	if err != nil {
		// Every rank returns the same error: each says so.
		fmt.Printf("rank %d: %v\n", me, err)
		world.Barrier()
		mpi.Finalize()
		if me == 0 {
			os.Exit(4)
		}
		return
	}
	if *mode == "order" {
		out, err := farm.Map(world, inputs, fn, farm.WithChunk(*chunk))
		if err != nil {
			fmt.Printf("rank %d: Map: %v\n", me, err)
		}
		if me == 0 {
			for i, d := range out {
				if d.Square != i*i {
					fmt.Printf("Map: result %d is %d\n", i, d.Square)
					break
				}
			}
			fmt.Printf("Map: %d results\n", len(out))
		} else if out != nil {
			fmt.Printf("rank %d: Map gave %d results\n", me, len(out))
		}
	}
	if me == 0 {
		for r, k := range perRank {
			fmt.Printf("rank %d: %d tasks\n", r, k)
		}
		fmt.Printf("tasks=%d slow-task-on=%d arrival-in-input-order=%v seconds=%.3f\n", next, slow, inOrder, time.Since(start).Seconds())
	}
	mpi.Finalize()
}
