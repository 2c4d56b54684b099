// Command collbench measures collective latency in the manner of the OSU
// collective benchmarks (osu_barrier, osu_bcast, osu_allreduce): for each
// operation and message size, every rank times each call (after a barrier
// that lines the ranks up), takes the median of its times, and the table
// shows the largest median over the ranks, in microseconds.
//
//	go run ./cmd/gorun -np 4 ./bench/collbench
//
// Sizes are in bytes of float64 data (8 B, 8 KiB, 8 MiB by default). The C
// twin in c/osu_coll.c prints the same table for Open MPI. "allreduce" is
// mpi.AllreduceSlice, which returns a new slice per call; "allreduce_into"
// (not in the default -ops) is mpi.AllreduceSliceInto into one buffer, as
// MPI_Allreduce writes into the caller's receive buffer. Likewise "bcast"
// is mpi.Bcast and "bcast_into" (not in the default -ops) mpi.BcastInto.
//
// compare.sh runs both alternately and prints medians and the median of the
// per-run ratios gorun / Open MPI:
//
//	bench/collbench/compare.sh 15 4 8388608 "allreduce allreduce_into"
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorun-mpi/gorun/mpi"
)

func main() {
	sizesFlag := flag.String("sizes", "8,8192,8388608", "comma-separated message sizes in bytes")
	iters := flag.Int("iters", 200, "calls per size for small messages (fewer for large)")
	ops := flag.String("ops", "barrier,bcast,allreduce", "comma-separated operations to measure")
	cpuProfile := flag.String("cpuprofile", "", "write each rank's CPU profile to `prefix`.RANK")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile + "." + os.Getenv("GORUN_RANK"))
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "collbench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	var sizes []int
	for _, s := range strings.Split(*sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 8 {
			fmt.Fprintf(os.Stderr, "collbench: bad size %q\n", s)
			os.Exit(2)
		}
		sizes = append(sizes, n)
	}
	if err := run(sizes, *iters, strings.Split(*ops, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "collbench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(sizes []int, iters int, ops []string) error {
	world, err := mpi.Init()
	if err != nil {
		return err
	}
	defer mpi.Finalize()
	if world.Rank() == 0 {
		fmt.Printf("# gorun collbench, %d ranks; median per rank, max over ranks\n", world.Size())
		fmt.Printf("%-14s %10s %12s\n", "op", "bytes", "median_us")
	}
	report := func(op string, size int, call func() error, n int) error {
		if !slices.Contains(ops, op) {
			return nil
		}
		us, err := measure(world, call, n)
		if err != nil {
			return fmt.Errorf("%s %d bytes: %w", op, size, err)
		}
		if world.Rank() == 0 {
			fmt.Printf("%-14s %10d %12.2f\n", op, size, us)
		}
		return nil
	}
	if err := report("barrier", 0, world.Barrier, iters*5); err != nil {
		return err
	}
	for _, size := range sizes {
		v := make([]float64, size/8)
		for i := range v {
			v[i] = float64(world.Rank() + i)
		}
		n := itersFor(size, iters)
		if err := report("bcast", size, func() error { _, err := mpi.Bcast(world, v, 0); return err }, n); err != nil {
			return err
		}
		buf := slices.Clone(v)
		if err := report("bcast_into", size, func() error { return mpi.BcastInto(world, buf, 0) }, n); err != nil {
			return err
		}
		if err := report("allreduce", size, func() error { _, err := mpi.AllreduceSlice(world, v, mpi.Sum); return err }, n); err != nil {
			return err
		}
		out := make([]float64, len(v))
		if err := report("allreduce_into", size, func() error { return mpi.AllreduceSliceInto(world, v, out, mpi.Sum) }, n); err != nil {
			return err
		}
	}
	return nil
}

// itersFor scales the number of calls down for large messages.
func itersFor(size, iters int) int {
	switch {
	case size >= 1<<20:
		return max(iters/10, 10)
	case size >= 64<<10:
		return max(iters/2, 10)
	}
	return iters
}

// measure times n calls (after n/10 warm-up calls) and returns the largest
// per-rank median in microseconds.
func measure(world *mpi.Comm, call func() error, n int) (float64, error) {
	for range n/10 + 1 {
		if err := call(); err != nil {
			return 0, err
		}
	}
	times := make([]float64, n)
	for i := range n {
		if err := world.Barrier(); err != nil {
			return 0, err
		}
		start := time.Now()
		if err := call(); err != nil {
			return 0, err
		}
		times[i] = float64(time.Since(start).Nanoseconds()) / 1e3
	}
	slices.Sort(times)
	return mpi.Allreduce(world, times[n/2], mpi.Max)
}
