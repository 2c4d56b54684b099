package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// rankTimerSlack is the timer slack every rank starts with, in nanoseconds
// (prctl PR_SET_TIMERSLACK: how much later than asked the kernel may end a
// thread's timed sleep; Linux's default is 50 µs). It is for Go's monitor
// thread (sysmon), which a rank cannot reach itself: after a rank has slept
// (waiting for a peer) and wakes, or after it starts, sysmon ticks every 20
// µs (about 90 µs with the default slack) for some 25 ms, and each tick
// takes the core from a rank that polls for its next message for about
// 10 µs. With this slack it ticks about a third as often. The rank's other
// timers are late by as much at most; Go already rounds an idle process's
// sleeps under a millisecond up to one. Only for ranks that run Go with
// one P each (gorun's GOMAXPROCS when there are no more cores than ranks):
// with more, the scheduler's own short sleeps (a 3 µs pause before
// stealing a goroutine from a busy P, 100 µs steps while stopping the
// world) would stretch by as much. 8-byte ping-pong's first loop after
// Init (10,000 round trips), alternated runs: mean one way 0.69-1.11 µs
// with the default slack against 0.61-0.72 (see the issue 17 note).
const rankTimerSlack = 250_000

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
