package main

import (
	"bufio"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// slowCalls records when each call of a back-to-back loop started, to
// write the slow ones (-slowcalls) with times of CLOCK_MONOTONIC, the
// clock perf's -k CLOCK_MONOTONIC stamps its events with, so that a slow
// call can be put beside what the scheduler did meanwhile.
type slowCalls struct {
	file   string
	rank   int
	label  string          // the loop's operation and size
	min    float64         // the time, in microseconds, from which a call is slow
	base   int64           // CLOCK_MONOTONIC at the loop's start, ns
	starts []time.Duration // each call's start since the loop's start
}

// newSlowCalls prepares the record of a loop of n calls.
func newSlowCalls(file string, rank int, label string, min float64, n int) *slowCalls {
	return &slowCalls{file: file, rank: rank, label: label, min: min, starts: make([]time.Duration, n)}
}

// begin reads the clocks at the loop's start.
func (s *slowCalls) begin() time.Time {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	s.base = ts.Nano()
	return time.Now()
}

// write appends to FILE.RANK one line per call of at least s.min
// microseconds (each holds the calls' times as measured, scaled): the
// loop's label, the call's index, its start in CLOCK_MONOTONIC
// nanoseconds and its time in microseconds.
func (s *slowCalls) write(each []float64) error {
	f, err := os.OpenFile(fmt.Sprintf("%s.%d", s.file, s.rank), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("-slowcalls: %w", err)
	}
	w := bufio.NewWriter(f)
	for i, t := range each {
		if t >= s.min {
			fmt.Fprintf(w, "%s %d %d %.3f\n", s.label, i, s.base+s.starts[i].Nanoseconds(), t)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("-slowcalls: %w", err)
	}
	return f.Close()
}
