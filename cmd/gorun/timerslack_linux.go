package main

import (
	"fmt"
	"strconv"

	"github.com/gorun-mpi/gorun/internal/jobenv"
	"golang.org/x/sys/unix"
)

// rankTimerSlack is the timer slack every rank starts with, in nanoseconds
// (prctl PR_SET_TIMERSLACK: how much later than asked the kernel may end a
// thread's timed sleep; Linux's default is 50 µs). It is for Go's monitor
// thread (sysmon), which a rank cannot reach itself: after a rank starts,
// or wakes with a system call from a sleep long enough for sysmon to sleep
// too (a wait for a peer, as at Init), sysmon sleeps 20 µs between ticks
// 50 times, then twice as long each tick up to 10 ms: some 60 ticks, which
// with the default slack come in about 25 ms, one every ~70 µs at first,
// each taking the core from a rank that polls for its next message (one
// involuntary context switch of a rank per tick: the 4-32 µs tails of the
// first loop after Init). With 1 ms of slack they come at most about one
// a millisecond. 8-byte ping-pong's first loop after Init (10,000 round
// trips, ~12 ms), 8 alternated rounds beside Open MPI at load 5-6: mean
// one way 2.14-2.75x Open MPI's -> 1.47-1.94x (p99 5.4-17.5 -> 3.6-5.1 µs;
// context switches of a rank per 1000 calls 6-10 -> 1-3); Barrier np=2's
// first loop 1.30-1.86x -> 0.89-1.40x; 8-byte collectives at np=4 (ranks
// that sleep and wake often) 0.6-0.8x the time. 250 µs gave 1.78-2.52x and
// 0.97-1.74x, 2 ms no better than 1 ms (issue 17 notes). The rank's other
// timers may end up to 1 ms late: Go already waits whole milliseconds for
// a timer when the rank is idle (its network poller's timeout), and
// sysmon's duties (taking the P back from a long system call, preempting a
// goroutine after 10 ms) wait for its ticks, which are 10 ms apart in a
// rank's steady state. Only for ranks that run Go with one P each (gorun's
// GOMAXPROCS when there are no more cores than ranks): with more, the
// scheduler's own short sleeps (a 3 µs pause before stealing a goroutine
// from a busy P, 100 µs steps while stopping the world) would stretch by
// as much.
const rankTimerSlack = 1_000_000

// withRankTimerSlack sets the calling thread's timer slack to
// rankTimerSlack, so that the processes it starts from now on inherit it
// (the slack survives fork and exec), and returns the function that gives
// the thread its own slack back, and the ranks' environment entry that
// names that own slack (jobenv.TimerSlack): a Go rank's threads all start
// with rankTimerSlack, Go's monitor among them, and mpi.Init gives the
// thread that calls it the launcher's slack back, so that the program's
// own sleeps and timeouts on that thread are not stretched. The caller's
// goroutine must stay locked to its thread meanwhile.
func withRankTimerSlack() (restore func(), env []string, err error) {
	restore = func() {}
	own, err := unix.PrctlRetInt(unix.PR_GET_TIMERSLACK, 0, 0, 0, 0)
	if err != nil {
		return restore, nil, fmt.Errorf("reading gorun's timer slack: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, rankTimerSlack, 0, 0, 0); err != nil {
		return restore, nil, fmt.Errorf("setting the ranks' timer slack to %d ns: %w", rankTimerSlack, err)
	}
	restore = func() { _ = unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(own), 0, 0, 0) }
	return restore, []string{jobenv.TimerSlack + "=" + strconv.Itoa(own)}, nil
}
