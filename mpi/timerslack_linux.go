package mpi

import (
	"fmt"
	"runtime"
	"strconv"

	"github.com/gorun-mpi/gorun/internal/jobenv"
	"golang.org/x/sys/unix"
)

// takeLauncherTimerSlack gives the calling thread the timer slack named by
// value (jobenv.TimerSlack: the launcher's own, in nanoseconds), when gorun
// set it. gorun starts ranks that run Go with one P each with a timer
// slack of 1 ms, for Go's monitor thread (sysmon), which starts with the
// process and which nothing else can reach: its fast ticks after a rank
// starts or wakes then come at most about one a millisecond instead of
// one every ~70 µs, each taking the core from a polling rank. Init takes
// the usual slack back on its own thread, where the program's goroutines
// mostly run with one P, so that their sleeps and timeouts are not made up
// to a millisecond later (time.Sleep of 1 ms took 2.0 ms with the longer
// slack against 1.1 ms here). Threads Go starts later from this one inherit
// it; those sysmon starts keep the longer slack.
func takeLauncherTimerSlack(value string) error {
	if value == "" {
		return nil
	}
	ns, err := strconv.ParseUint(value, 10, 63)
	if err != nil {
		return fmt.Errorf("%s=%q: not a timer slack in nanoseconds: %w", jobenv.TimerSlack, value, err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(ns), 0, 0, 0); err != nil {
		return fmt.Errorf("setting this thread's timer slack to %s's %d ns: %w", jobenv.TimerSlack, ns, err)
	}
	return nil
}
