// Command ops times what an MPI program pays for point-to-point and
// collective calls, in one table that its twins (c/ops.c for C MPI,
// py/ops.py for mpi4py's buffer API) print identically, so that
// bench/compare can run all of them on the same work and compare them
// line for line.
//
//	go run ./cmd/gorun -np 2 ./bench/ops -kind pingpong
//	go run ./cmd/gorun -np 4 ./bench/ops -kind coll -sizes 8,8192,1048576,8388608
//
// -cpuprofile FILE and -memprofile FILE write each rank's CPU and
// allocation profiles to FILE.RANK, for go tool pprof. -stats prints, per
// rank and loop, a histogram of the timed back-to-back calls' times and the
// garbage collections, allocations and context switches per 1000 calls.
// -slowcalls FILE appends to FILE.RANK the timed back-to-back calls that took
// -slowmin microseconds or more, with their start in CLOCK_MONOTONIC (the
// clock of perf record -k CLOCK_MONOTONIC), to put them beside the
// scheduler's events. -settle N makes N more ping-pong round trips before
// the first row's own warm-up (a diagnosis, pingpong only: the default, 0,
// measures what a program pays right after Init; with 30000, tens of
// milliseconds, the first row costs what the later rows do, which shows
// how much of it is the young process: see issue 17's notes on Go's
// sysmon).
//
// For every operation and size it makes warm-up calls, then three loops
// of the same number of calls:
//
//   - back to back: the calls follow each other with nothing in between,
//     as in a program's loop; mean_us is the loop's time divided by the
//     calls (tails and garbage collection included);
//   - back to back, each call timed (two reads of the clock around it,
//     some 0.06-0.13 us a call on a 2-core AMD EPYC VM, which the first
//     loop leaves out of the mean): p50_us and p99_us are percentiles of
//     the calls' times;
//   - OSU style: a barrier before each call lines the ranks up and only
//     the call is timed; osu_mean_us is the mean of those times.
//
// Each figure is the largest over the ranks (the slowest rank is what the
// job waits for). For pingpong, times are one way (half a round trip
// between ranks 0 and 1) and the other ranks only join the barriers.
//
// Sizes are bytes: the message of a ping-pong, the vector of float64 of
// allreduce and bcast, each rank's part of gather, and each block (one per
// destination) of alltoall, as the OSU benchmarks count them. The
// operations are mpi.Allreduce of one float64 ("allreduce_value", at 8 B
// only), mpi.AllreduceSlice ("allreduce"; a new result per call),
// mpi.AllreduceSliceInto ("allreduce_into"; the caller's buffer, as
// MPI_Allreduce), mpi.Bcast ("bcast"; a new slice per call on every rank
// but the root), mpi.BcastInto ("bcast_into"), Comm.Barrier ("barrier"),
// mpi.Gather ("gather"), mpi.GatherInto ("gather_into"; the root's buffer,
// as MPI_Gather), mpi.Alltoall ("alltoall"; [][]float64 in and out) and
// mpi.AlltoallInto ("alltoall_into"; flat buffers, as MPI_Alltoall). The C and Python
// twins print the plain operations' figures under the _into names too
// (and an 8-byte allreduce's under allreduce_value), since MPI's calls
// always write into the caller's buffer.
//
// Each collective operation is measured with only the buffers it needs
// live, and a garbage collection between operations: what the allocating
// forms cost a Go program grows with its live heap (the garbage collector
// lets the heap grow in proportion to it before collecting, so a larger
// live heap churns through more fresh memory), and other operations'
// buffers are not part of a loop of one operation.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
)

func main() {
	kind := flag.String("kind", "coll", "pingpong or coll")
	sizesFlag := flag.String("sizes", "", "comma-separated sizes in bytes (default: 8..16777216 by powers of 2 for pingpong; 8,8192,1048576,8388608 for coll)")
	opsFlag := flag.String("ops", strings.Join(collOps, ","), "comma-separated collective operations (coll only)")
	budget := flag.Int("budget", 128<<20, "bytes per size and loop: calls = budget/size, within -miniters..-maxiters")
	minIters := flag.Int("miniters", 20, "fewest calls per loop")
	maxIters := flag.Int("maxiters", 1000, "most calls per loop")
	cpuProfile := flag.String("cpuprofile", "", "write each rank's CPU profile to this file, the rank appended (pprof)")
	memProfile := flag.String("memprofile", "", "write each rank's allocation profile to this file, the rank appended (pprof)")
	slowCalls := flag.String("slowcalls", "", "append each rank's slow back-to-back calls (index, CLOCK_MONOTONIC start in ns, time) to this file, the rank appended")
	slowMin := flag.Float64("slowmin", 2, "the time in microseconds (as the table reports it) from which -slowcalls writes a call")
	settle := flag.Int("settle", 0, "pingpong only: round trips made before the first row's warm-up (diagnosis; 0 measures the first row right after Init)")
	stats := flag.Bool("stats", false, "print each rank's histogram of back-to-back call times, GCs, allocations and context switches to stderr")
	flag.Parse()

	sizes, err := parseSizes(*sizesFlag, *kind)
	if err == nil {
		p := plan{sizes: sizes, ops: strings.Split(*opsFlag, ","), budget: *budget, minIters: *minIters, maxIters: *maxIters,
			cpuProfile: *cpuProfile, memProfile: *memProfile, stats: *stats, slowCalls: *slowCalls, slowMin: *slowMin, settle: *settle}
		err = run(*kind, p)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ops:", err)
		os.Exit(1)
	}
}

// collOps are the collective operations measured by default, in the order
// of the table.
var collOps = []string{"barrier", "allreduce_value", "allreduce", "allreduce_into", "bcast", "bcast_into", "gather", "gather_into", "alltoall", "alltoall_into"}

// plan is what to measure and how many calls to make.
type plan struct {
	sizes              []int
	ops                []string
	budget             int
	minIters, maxIters int
	// cpuProfile and memProfile name the profiles to write ("" for none).
	cpuProfile, memProfile string
	// stats: print each back-to-back loop's histogram and counters.
	stats bool
	// slowCalls names the file of slow calls ("" for none); slowMin is
	// the time, in microseconds, from which a call is written there.
	slowCalls string
	slowMin   float64
	// settle is the ping-pong round trips made before the first row.
	settle int
}

// iters is the number of calls per loop for a size.
func (p plan) iters(size int) int {
	return min(max(p.budget/max(size, 1), p.minIters), p.maxIters)
}

// parseSizes reads -sizes, or gives kind's default sizes.
func parseSizes(s, kind string) ([]int, error) {
	if s == "" {
		if kind == "pingpong" {
			var sizes []int
			for n := 8; n <= 16<<20; n *= 2 {
				sizes = append(sizes, n)
			}
			return sizes, nil
		}
		return []int{8, 8 << 10, 1 << 20, 8 << 20}, nil
	}
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 8 || n%8 != 0 {
			return nil, fmt.Errorf("-sizes: %q is not a size in bytes (a multiple of 8, at least 8)", f)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}
