// Command taskfarm hands tasks of uneven cost to workers on demand and
// handles each result as soon as it arrives - the pattern of Parallel
// Python's submit(func, args, callback=...), concurrent.futures, or a
// Celery worker pool - with package farm.
//
// Every rank calls farm.Run. Rank 0 is the master: it holds the tasks,
// gives each worker the next one as soon as it is free, and runs the
// callback on each result as it comes back. Slow tasks do not hold the
// others up: a worker that finishes early simply gets more work.
//
// Task i counts the primes below a limit that varies a lot from task to
// task, so some tasks take ten times longer than others.
//
//	go run ./cmd/gorun -np 4 ./examples/taskfarm -tasks 20
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/gorun-mpi/gorun/farm"
	"github.com/gorun-mpi/gorun/mpi"
)

type task struct {
	ID    int
	Limit int // count the primes below Limit
}

type result struct {
	TaskID, Primes, Worker int
}

// taskFor returns task i: limits from 20,000 to 200,000, in no order.
func taskFor(i int) task { return task{ID: i, Limit: 20_000 + (i*7919%10)*20_000} }

// countPrimes is the work: deliberately plain trial division.
func countPrimes(limit int) int {
	count := 0
	for n := 2; n < limit; n++ {
		prime := true
		for d := 2; d*d <= n; d++ {
			if n%d == 0 {
				prime = false
				break
			}
		}
		if prime {
			count++
		}
	}
	return count
}

func main() {
	tasks := flag.Int("tasks", 20, "number of tasks")
	flag.Parse()
	world, err := mpi.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, "taskfarm:", err)
		os.Exit(1)
	}
	defer mpi.Finalize()
	if err := run(world, *tasks); err != nil {
		mpi.Abort(1, err.Error())
	}
}

// tally is the master's bookkeeping, updated by the callback.
type tally struct {
	sum     int
	perRank map[int]int
}

func run(world *mpi.Comm, n int) error {
	var todo []task // only rank 0's tasks are handed out
	if world.Rank() == 0 {
		for i := range n {
			todo = append(todo, taskFor(i))
		}
	}
	// The work, run by whichever rank gets the task: it says which it is.
	me := world.Rank()
	work := func(t task) (result, error) {
		return result{TaskID: t.ID, Primes: countPrimes(t.Limit), Worker: me}, nil
	}
	// The callback, run on rank 0 for each result, in the order they come.
	t := &tally{perRank: map[int]int{}}
	callback := func(i int, r result) {
		fmt.Printf("task %d: %d primes below %d (rank %d)\n", r.TaskID, r.Primes, todo[i].Limit, r.Worker)
		t.sum += r.Primes
		t.perRank[r.Worker]++
	}
	// One task per message: these tasks are long enough that chunks would
	// only hold results back.
	if err := farm.Run(world, todo, work, callback, farm.WithChunk(1)); err != nil {
		return err
	}
	if world.Rank() == 0 {
		t.report(n, world.Size())
	}
	return nil
}

func (t *tally) report(n, size int) {
	var shares []string
	for r := range size {
		if t.perRank[r] > 0 {
			shares = append(shares, fmt.Sprintf("rank %d: %d", r, t.perRank[r]))
		}
	}
	fmt.Printf("taskfarm: %d tasks, %d primes in all; %s\n", n, t.sum, strings.Join(shares, ", "))
}
