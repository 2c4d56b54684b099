package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
)

// loopStats attributes a back-to-back loop's slow calls (-stats): how the
// calls' times spread over power-of-two buckets, and what the process did
// meanwhile (garbage collections, allocations, minor page faults (memory
// touched for the first time, a few microseconds each in a VM), the threads' voluntary
// context switches, which count the times a thread went to sleep, and the
// involuntary ones, which count the times the scheduler took its core).
type loopStats struct {
	mem     runtime.MemStats
	rusage  syscall.Rusage
	numGC   uint32
	mallocs uint64
}

// statBuckets are the upper bounds, in microseconds, of the histogram's
// buckets; the last bucket takes every longer call.
var statBuckets = []float64{0.5, 1, 2, 4, 8, 16, 32, 64, 128}

// startStats records the process's counters before a loop.
func startStats() *loopStats {
	s := &loopStats{}
	runtime.ReadMemStats(&s.mem)
	s.numGC, s.mallocs = s.mem.NumGC, s.mem.Mallocs
	syscall.Getrusage(syscall.RUSAGE_SELF, &s.rusage)
	return s
}

// report prints, on stderr, one line for this rank: the histogram of the
// calls' times (each) and the counters' changes since startStats, per
// 1000 calls.
func (s *loopStats) report(op string, size, rank int, each []float64) {
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	counts := make([]int, len(statBuckets)+1)
	for _, t := range each {
		i := 0
		for i < len(statBuckets) && t >= statBuckets[i] {
			i++
		}
		counts[i]++
	}
	var b strings.Builder
	for i, c := range counts {
		if i < len(statBuckets) {
			fmt.Fprintf(&b, " <%g:%d", statBuckets[i], c)
		} else {
			fmt.Fprintf(&b, " >=%g:%d", statBuckets[i-1], c)
		}
	}
	// Calls of a millisecond or more are almost always the process losing
	// its core to another (a loaded machine): the mean of the others shows
	// what the library costs.
	short, shortSum := 0, 0.0
	for _, t := range each {
		if t < 1000 {
			short++
			shortSum += t
		}
	}
	n := float64(len(each))
	per1000 := func(d int64) float64 { return float64(d) * 1000 / n }
	fmt.Fprintf(os.Stderr, "stats %s %d rank %d:%s | mean under 1 ms %.3f us, %d calls over | per 1000 calls: gc %.2f, allocs %.0f, page faults %.1f, vcsw %.1f, ivcsw %.1f\n",
		op, size, rank, b.String(), shortSum/float64(max(short, 1)), len(each)-short, per1000(int64(mem.NumGC-s.numGC)), per1000(int64(mem.Mallocs-s.mallocs)),
		per1000(ru.Minflt-s.rusage.Minflt), per1000(ru.Nvcsw-s.rusage.Nvcsw), per1000(ru.Nivcsw-s.rusage.Nivcsw))
}
