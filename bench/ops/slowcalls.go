package main

import (
	"bufio"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// slowCalls records when each call of a back-to-back loop started and
// ended, to write the slow ones (-slowcalls) with times of
// CLOCK_MONOTONIC, the clock perf's -k CLOCK_MONOTONIC stamps its events
// with, so that a slow call can be put beside what the scheduler did
// meanwhile (see bench/ops/slowsched).
type slowCalls struct {
	file  string
	rank  int
	label string  // the loop's operation and size
	min   float64 // the time, in microseconds, from which a call is slow
	base  int64   // CLOCK_MONOTONIC at the loop's start, ns
	// starts and ends are each call's start and end since the loop's start.
	starts, ends []time.Duration
}

// newSlowCalls prepares the record of a loop of n calls.
func newSlowCalls(file string, rank int, label string, min float64, n int) *slowCalls {
	return &slowCalls{file: file, rank: rank, label: label, min: min,
		starts: make([]time.Duration, n), ends: make([]time.Duration, n)}
}

// begin reads the clocks at the loop's start.
func (s *slowCalls) begin() time.Time {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	s.base = ts.Nano()
	return time.Now()
}

// write appends to FILE.RANK one line per call whose time as the table
// counts it (each: scaled, in microseconds) is at least s.min: the loop's
// label, the call's index, the loop's number of calls, the rank's process
// id, and the call's start and end in CLOCK_MONOTONIC nanoseconds.
func (s *slowCalls) write(each []float64) error {
	f, err := os.OpenFile(fmt.Sprintf("%s.%d", s.file, s.rank), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("-slowcalls: %w", err)
	}
	w := bufio.NewWriter(f)
	pid := os.Getpid()
	for i, t := range each {
		if t >= s.min {
			fmt.Fprintf(w, "%s %d %d %d %d %d\n", s.label, i, len(each), pid, s.base+s.starts[i].Nanoseconds(), s.base+s.ends[i].Nanoseconds())
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("-slowcalls: %w", err)
	}
	return f.Close()
}
