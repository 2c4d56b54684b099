// Command pingwait measures a ping-pong between ranks 0 and 1 while every
// other rank waits in a Barrier, and what the waiting ranks cost meanwhile:
// waiting ranks must not take the cores of the working ones when ranks
// outnumber cores.
//
//	go run ./cmd/gorun -np 4 ./bench/pingwait -iters 100000
//
// Ranks 0 and 1 print the one-way time (mean of the loop, p50 and p99 of
// the round trips halved) and their CPU time; the waiting ranks print how
// long they waited in the Barrier, their CPU time and their voluntary and
// involuntary context switches over that wait.
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/gorun-mpi/gorun/mpi"
)

func main() {
	iters := flag.Int("iters", 20000, "round trips between ranks 0 and 1")
	flag.Parse()
	if err := run(*iters); err != nil {
		fmt.Fprintln(os.Stderr, "pingwait:", err)
		mpi.Abort(1, err.Error())
	}
}

func run(iters int) error {
	world, err := mpi.Init()
	if err != nil {
		return err
	}
	defer mpi.Finalize()
	rank := world.Rank()
	if world.Size() < 3 {
		return fmt.Errorf("run with 3 ranks or more (got %d): ranks 0 and 1 ping-pong, the others wait", world.Size())
	}
	before := usage()
	start := time.Now()
	if rank < 2 {
		halves, err := pingPong(world, iters)
		if err != nil {
			return err
		}
		elapsed := time.Since(start)
		slices.Sort(halves)
		fmt.Printf("rank %d: one way mean %.2f us, p50 %.2f us, p99 %.2f us; cpu %.1f ms over %.1f ms\n", rank,
			float64(elapsed.Nanoseconds())/1e3/float64(2*iters), halves[len(halves)/2], halves[len(halves)*99/100],
			usage().cpu(before), float64(elapsed.Microseconds())/1e3)
	}
	if err := world.Barrier(); err != nil {
		return err
	}
	if rank >= 2 {
		after := usage()
		fmt.Printf("rank %d: waited %.1f ms in Barrier; cpu %.1f ms, voluntary switches %d, involuntary %d\n", rank,
			float64(time.Since(start).Microseconds())/1e3, after.cpu(before), after.Nvcsw-before.Nvcsw, after.Nivcsw-before.Nivcsw)
	}
	return nil
}

// pingPong makes iters round trips of one float64 between ranks 0 and 1
// and returns each round trip's time halved, in microseconds.
func pingPong(world *mpi.Comm, iters int) ([]float64, error) {
	peer := 1 - world.Rank()
	v := 1.0
	halves := make([]float64, 0, iters)
	for range iters {
		t := time.Now()
		if world.Rank() == 0 {
			if err := world.Send(v, peer, 1); err != nil {
				return nil, err
			}
			if _, err := world.Recv(&v, peer, 1); err != nil {
				return nil, err
			}
		} else {
			if _, err := world.Recv(&v, peer, 1); err != nil {
				return nil, err
			}
			if err := world.Send(v, peer, 1); err != nil {
				return nil, err
			}
		}
		halves = append(halves, float64(time.Since(t).Nanoseconds())/2e3)
	}
	return halves, nil
}

// rusage is the process's resource usage.
type rusage struct{ syscall.Rusage }

func usage() rusage {
	var u rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u.Rusage)
	return u
}

// cpu is the CPU time, user and system, from before to u, in milliseconds.
func (u rusage) cpu(before rusage) float64 {
	ns := func(r rusage) int64 { return r.Utime.Nano() + r.Stime.Nano() }
	return float64(ns(u)-ns(before)) / 1e6
}
