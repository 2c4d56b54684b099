package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// rankTimerSlack is the timer slack every rank starts with, in nanoseconds
// (prctl PR_SET_TIMERSLACK: how much later than asked the kernel may end a
// thread's timed sleep; Linux's default is 50 µs). It is for Go's monitor
// thread (sysmon), which a rank cannot reach itself: after a rank starts,
// or wakes from a sleep (waiting for a peer) with a system call, sysmon
// sleeps 20 µs between ticks, 50 times, then twice as long each tick up to
// 10 ms: some 60 ticks, which with the default slack come in the first
// ~25 ms (one every ~70 µs at first), each taking the core from a rank
// that polls for its next message (an involuntary context switch of the
// rank per tick; the tails of 4-32 µs of the first loop after Init). With
// 1 ms of slack the same ticks come at most about one per millisecond,
// as in a rank's steady state (one per 10 ms) within a factor of ten,
// spread over ~70 ms. 8-byte ping-pong's first loop after Init (10,000
// round trips, 12 ms), six alternated rounds beside Open MPI at load 3-6:
// rank context switches per 1000 calls 6-10 -> 1.1, mean one way 0.74-1.16
// µs (2.03-2.90x Open MPI) -> 0.59-0.68 (1.52-1.96x); Barrier np=2's first
// loop 0.76-0.92 µs (1.34-2.00x) -> 0.51-0.65 (0.92-1.51x); 250 µs gave
// 1.78-2.52x and 0.97-1.74x, 2 ms no better than 1 ms (issue 17 notes).
// The rank's other timers end up to 1 ms late; Go already waits at least
// a millisecond for a timer under a millisecond when the rank is idle (its
// network poller's wait is in milliseconds), and a rank's sysmon ticks
// every 10 ms in its steady state, so its duties (taking the P back from
// a long system call, preempting a goroutine after 10 ms) are late by a
// fraction of what they wait already. Only for ranks that run Go with one
// P each (gorun's GOMAXPROCS when there are no more cores than ranks):
// with more, the scheduler's own short sleeps (a 3 µs pause before
// stealing a goroutine from a busy P, 100 µs steps while stopping the
// world) would stretch by as much.
const rankTimerSlack = 1_000_000

// withRankTimerSlack sets the calling thread's timer slack to
// rankTimerSlack, so that the processes it starts from now on inherit it
// (the slack survives fork and exec), and returns the function that gives
// the thread its own slack back. The caller's goroutine must stay locked to
// its thread meanwhile.
func withRankTimerSlack() (restore func(), err error) {
	restore = func() {}
	own, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		return restore, fmt.Errorf("reading gorun's timer slack: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, rankTimerSlack, 0, 0, 0); err != nil {
		return restore, fmt.Errorf("setting the ranks' timer slack to %d ns: %w", rankTimerSlack, err)
	}
	return func() { _ = unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(own), 0, 0, 0) }, nil
}
