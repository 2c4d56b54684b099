// Command pingpong measures point-to-point latency and bandwidth between
// ranks 0 and 1, in the manner of the OSU micro-benchmarks (osu_latency,
// osu_bw): rank 0 sends a message of each size to rank 1, which sends it
// back; the one-way time is half the round trip. It prints, per size, the
// median and minimum one-way latency and the bandwidth at the median.
//
//	go run ./cmd/gorun -np 2 ./bench/pingpong
//	go run ./cmd/gorun -np 2 ./bench/pingpong -min 8 -max 16777216 -iters 1000
//
// The C twin in c/pingpong.c prints the same table for Open MPI.
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
	minSize := flag.Int("min", 8, "smallest message in bytes")
	maxSize := flag.Int("max", 16<<20, "largest message in bytes")
	iters := flag.Int("iters", 2000, "round trips per size for small messages (fewer for large)")
	flag.Parse()
	if err := run(*minSize, *maxSize, *iters); err != nil {
		fmt.Fprintln(os.Stderr, "pingpong:", err)
		os.Exit(1)
	}
}

func run(minSize, maxSize, iters int) error {
	world, err := mpi.Init()
	if err != nil {
		return err
	}
	defer mpi.Finalize()
	if world.Size() < 2 {
		return errors.New("needs 2 ranks: gorun -np 2 ./bench/pingpong")
	}
	if world.Rank() == 0 {
		fmt.Printf("# gorun pingpong, %d ranks\n", world.Size())
		fmt.Printf("%-10s %12s %12s %12s\n", "bytes", "median_us", "min_us", "MB/s")
	}
	for size := minSize; size <= maxSize; size *= 2 {
		n := roundsFor(size, iters)
		msg := make([]byte, size)
		var samples []time.Duration
		for i := 0; i < n+n/10+2; i++ { // the first tenth warms up
			start := time.Now()
			switch world.Rank() {
			case 0:
				if err := world.Send(msg, 1, 1); err != nil {
					return err
				}
				if _, err := world.Recv(&msg, 1, 1); err != nil {
					return err
				}
			case 1:
				if _, err := world.Recv(&msg, 0, 1); err != nil {
					return err
				}
				if err := world.Send(msg, 0, 1); err != nil {
					return err
				}
			}
			if i >= n/10+2 {
				samples = append(samples, time.Since(start)/2)
			}
		}
		if world.Rank() == 0 {
			slices.Sort(samples)
			med, low := samples[len(samples)/2], samples[0]
			fmt.Printf("%-10d %12.2f %12.2f %12.1f\n", size, us(med), us(low), float64(size)/med.Seconds()/1e6)
		}
	}
	return nil
}

// roundsFor keeps each size to a bounded amount of data.
func roundsFor(size, iters int) int {
	n := iters
	if limit := (256 << 20) / size; limit < n {
		n = limit
	}
	return max(n, 20)
}

func us(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
