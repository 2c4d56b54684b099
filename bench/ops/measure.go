package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/gorun-mpi/gorun/mpi"
)

// warmupCalls is how many calls precede a loop of n: a tenth of them, and
// at least 10, the OSU micro-benchmarks' warm-up for large messages
// (osu_util.h's LAT_SKIP_LARGE and COLL_SKIP_LARGE). A loop of a few
// large calls otherwise also times the process's first use of that much
// memory: the Go heap growing to its steady size for an allocating form
// (each fresh 8 MiB result faulting in its pages, 4-8 ms a call, until
// about the tenth call), and the first touch of the peers' buffers. The
// twins (c/ops.c, py/ops.py) warm up alike.
func warmupCalls(n int) int { return max(n/10, 10) }

// figures are one row of the table, in microseconds.
type figures struct {
	mean, osuMean, p50, p99 float64
}

// measure makes warmupCalls(n) warm-up calls, then three loops of n calls
// (see the package doc): back to back untimed, back to back with each call
// timed, and each call after a barrier. It returns the figures, largest
// over the ranks, on every rank. scale divides every time (2 for a round
// trip's one-way time). stats, when not nil, is called before the timed
// back-to-back loop and the function it returns after it (-stats); slow,
// when not nil, records that loop's slow calls (-slowcalls).
func measure(world *mpi.Comm, call func() error, n int, scale float64, stats func(each []float64) func(), slow *slowCalls) (figures, error) {
	for range warmupCalls(n) {
		if err := call(); err != nil {
			return figures{}, err
		}
	}
	// The mean: nothing but the calls in the loop. Timing each call
	// adds two clock reads to it (0.06-0.13 us a call on a 2-core AMD
	// EPYC VM, for the C twin as for this program), which would take
	// a third of a small call's mean and bring any two means closer.
	if err := world.Barrier(); err != nil {
		return figures{}, err
	}
	untimedStart := time.Now()
	for range n {
		if err := call(); err != nil {
			return figures{}, err
		}
	}
	mean := micros(time.Since(untimedStart)) / float64(n) / scale

	each := make([]float64, n)
	if err := world.Barrier(); err != nil {
		return figures{}, err
	}
	var statsDone func()
	if stats != nil {
		statsDone = stats(each)
	}
	loopStart := time.Now()
	if slow != nil {
		loopStart = slow.begin()
	}
	// Each call is timed with two reads of the monotonic clock, as the
	// twins time theirs (MPI_Wtime, MPI.Wtime): time.Since of a base
	// reads only that clock, where time.Now reads the wall clock too (a
	// third read, 26 ns a call on a 2-core AMD EPYC VM: two time.Since
	// 62 ns, time.Now and time.Since 88, C's two clock_gettime 57).
	for i := range each {
		start := time.Since(loopStart)
		if err := call(); err != nil {
			return figures{}, err
		}
		took := time.Since(loopStart) - start
		each[i] = micros(took) / scale
		if slow != nil {
			slow.starts[i] = start
			slow.ends[i] = start + took
		}
	}
	if statsDone != nil {
		statsDone()
	}
	if slow != nil {
		if err := slow.write(each); err != nil {
			return figures{}, err
		}
	}

	osuTotal := 0.0
	for range n {
		if err := world.Barrier(); err != nil {
			return figures{}, err
		}
		start := time.Since(loopStart)
		if err := call(); err != nil {
			return figures{}, err
		}
		osuTotal += micros(time.Since(loopStart)-start) / scale
	}

	slices.Sort(each)
	mine := []float64{mean, osuTotal / float64(n), percentile(each, 50), percentile(each, 99)}
	worst := make([]float64, len(mine))
	if err := mpi.AllreduceSliceInto(world, mine, worst, mpi.Max); err != nil {
		return figures{}, fmt.Errorf("combining the ranks' figures: %w", err)
	}
	return figures{worst[0], worst[1], worst[2], worst[3]}, nil
}

// percentile is the nearest-rank percentile of sorted values: the
// smallest value that at least p percent of the values do not exceed.
func percentile(sorted []float64, p int) float64 {
	k := (len(sorted)*p + 99) / 100
	return sorted[max(k-1, 0)]
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
