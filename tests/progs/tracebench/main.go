// Command tracebench measures what gorun --trace costs a ping-pong: rank 0
// sends size bytes to rank 1, which sends them back, iters times after a
// warm-up; rank 0 prints the one-way latency (half of each round trip):
// its mean, median and 99th percentile.
//
//	gorun -np 2 ./tests/progs/tracebench -size 8 -iters 20000
//	gorun -np 2 --trace t.json ./tests/progs/tracebench -size 8 -iters 20000
//
// tests/tracebench.sh runs it alternately with tracing off, on, and
// built from another commit.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/gorun-mpi/gorun/mpi"
)

func main() {
	size := flag.Int("size", 8, "message size in bytes")
	iters := flag.Int("iters", 20000, "measured round trips")
	flag.Parse()
	if err := run(*size, *iters); err != nil {
		fmt.Fprintln(os.Stderr, "tracebench:", err)
		os.Exit(1)
	}
}

func run(size, iters int) error {
	world, err := mpi.Init()
	if err != nil {
		return err
	}
	defer mpi.Finalize()
	if world.Size() != 2 {
		return errors.New("needs exactly 2 ranks")
	}
	msg := make([]byte, size)
	warm := iters / 10
	samples := make([]time.Duration, 0, iters)
	for i := 0; i < warm+iters; i++ {
		start := time.Now()
		if world.Rank() == 0 {
			if err := world.Send(msg, 1, 1); err != nil {
				return err
			}
			if _, err := world.Recv(&msg, 1, 1); err != nil {
				return err
			}
		} else {
			if _, err := world.Recv(&msg, 0, 1); err != nil {
				return err
			}
			if err := world.Send(msg, 0, 1); err != nil {
				return err
			}
		}
		if i >= warm {
			samples = append(samples, time.Since(start)/2)
		}
	}
	if world.Rank() == 0 {
		var sum time.Duration
		for _, s := range samples {
			sum += s
		}
		slices.Sort(samples)
		us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
		fmt.Printf("size %d iters %d mean_us %.3f p50_us %.3f p99_us %.3f\n", size, iters,
			us(sum/time.Duration(len(samples))), us(samples[len(samples)/2]), us(samples[len(samples)*99/100]))
	}
	return nil
}
