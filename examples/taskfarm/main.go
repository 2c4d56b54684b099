// Command taskfarm hands tasks of uneven cost to workers on demand and
// handles each result as soon as it arrives - the pattern of Parallel
// Python's submit(func, args, callback=...), concurrent.futures, or a
// Celery worker pool.
//
// Rank 0 is the master. It gives every worker one task, then waits for
// whichever result comes first (WaitAny over one pending receive per worker:
// the pending receives are the futures), runs the callback on it, and gives
// that worker the next task. Slow tasks do not hold the others up: a worker
// that finishes early simply gets more work.
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

	"github.com/gorun-mpi/gorun/mpi"
)

// Tags of the conversation.
const (
	tagTask   = 1 // master -> worker: a task (ID -1: no more work)
	tagResult = 2 // worker -> master: a result
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
	if world.Rank() == 0 {
		err = master(world, *tasks)
	} else {
		err = worker(world)
	}
	if err != nil {
		mpi.Abort(1, err.Error())
	}
}

// farm is the master's bookkeeping, updated by the callback.
type farm struct {
	sum     int
	perRank map[int]int
}

// callback handles one result, in the order results arrive.
func (f *farm) callback(r result, t task) {
	fmt.Printf("task %d: %d primes below %d (rank %d)\n", r.TaskID, r.Primes, t.Limit, r.Worker)
	f.sum += r.Primes
	f.perRank[r.Worker]++
}

func master(world *mpi.Comm, n int) error {
	f := &farm{perRank: map[int]int{}}
	workers := world.Size() - 1
	if workers == 0 { // no workers: do everything here
		for i := range n {
			t := taskFor(i)
			f.callback(result{i, countPrimes(t.Limit), 0}, t)
		}
		return f.report(n)
	}
	next := 0
	// One pending receive (a future) per worker, and what it is for.
	futures := make([]*mpi.Request, workers)
	results := make([]result, workers)
	running := make([]task, workers)
	submit := func(w int) error {
		if next == n {
			futures[w] = nil
			return world.Send(task{ID: -1}, w+1, tagTask) // no more work
		}
		running[w] = taskFor(next)
		next++
		if err := world.Send(running[w], w+1, tagTask); err != nil {
			return err
		}
		futures[w] = world.Irecv(&results[w], w+1, tagResult)
		return nil
	}
	for w := range workers {
		if err := submit(w); err != nil {
			return err
		}
	}
	for {
		// WaitAny returns the first of the pending futures to complete;
		// nil entries (workers already stopped) are skipped.
		var pending []*mpi.Request
		var owner []int
		for w, fu := range futures {
			if fu != nil {
				pending = append(pending, fu)
				owner = append(owner, w)
			}
		}
		if len(pending) == 0 {
			return f.report(n)
		}
		i, _, err := mpi.WaitAny(pending...)
		if err != nil {
			return err
		}
		w := owner[i]
		f.callback(results[w], running[w])
		if err := submit(w); err != nil {
			return err
		}
	}
}

func (f *farm) report(n int) error {
	var shares []string
	for r := range len(f.perRank) + 1 {
		if f.perRank[r] > 0 {
			shares = append(shares, fmt.Sprintf("rank %d: %d", r, f.perRank[r]))
		}
	}
	fmt.Printf("taskfarm: %d tasks, %d primes in all; %s\n", n, f.sum, strings.Join(shares, ", "))
	return nil
}

// worker does tasks until told there are no more.
func worker(world *mpi.Comm) error {
	for {
		var t task
		if _, err := world.Recv(&t, 0, tagTask); err != nil {
			return err
		}
		if t.ID < 0 {
			return nil
		}
		r := result{TaskID: t.ID, Primes: countPrimes(t.Limit), Worker: world.Rank()}
		if err := world.Send(r, 0, tagResult); err != nil {
			return err
		}
	}
}
