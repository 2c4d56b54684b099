package ranks

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"
)

// Errors of Run, matched with errors.Is.
var (
	// ErrPanic: the rank's body panicked; the error holds the value and the
	// stack.
	ErrPanic = errors.New("ranks: panic")
	// ErrGoexit: the rank's body called runtime.Goexit (t.FailNow or
	// t.SkipNow on the rank's goroutine) instead of returning.
	ErrGoexit = errors.New("ranks: the rank's goroutine exited (runtime.Goexit: t.FailNow or t.SkipNow)")
	// ErrHung: the rank was still running when the time given to the job
	// ran out; the error says what it was blocked in.
	ErrHung = errors.New("ranks: hung")
)

// Limits says how Run ends ranks that do not return.
type Limits struct {
	// Timeout is how long the ranks may run; 0 means no limit.
	Timeout time.Duration
	// Stop is called, for each rank still running when Timeout expires,
	// to make its blocked call return (mpitest finalizes the rank's world,
	// which fails its pending calls). Nil: nothing is stopped.
	Stop func(rank int)
	// API is the package whose call a hung rank is reported blocked in:
	// the import path and a dot; "" means package mpi's.
	API string
	// Grace is how long Run waits for stopped ranks to return; 0 means
	// DefaultGrace. A rank still running then is left behind (its goroutine
	// cannot be killed) and its error says so.
	Grace time.Duration
}

// DefaultGrace is Limits.Grace's default.
const DefaultGrace = 10 * time.Second

// Run calls body(rank) for every rank in [0, n) on its own goroutine, waits
// for all of them, and returns each rank's error: what body returned, or an
// error wrapping ErrPanic (with the panic's value and stack), ErrGoexit, or
// ErrHung (naming the mpi call, or else the function, the rank was blocked
// in when lim.Timeout expired, and where it was called from).
func Run(n int, lim Limits, body func(rank int) error) []error {
	if lim.Grace <= 0 {
		lim.Grace = DefaultGrace
	}
	if lim.API == "" {
		lim.API = mpiAPI
	}
	results := make([]error, n) // written by rank r before done[r] closes
	done := make([]chan struct{}, n)
	ids := make([]int64, n)
	var started sync.WaitGroup
	for r := range n {
		done[r] = make(chan struct{})
		started.Add(1)
		go func() {
			defer close(done[r])
			ids[r] = goroutineID()
			started.Done()
			returned := false
			defer func() {
				if p := recover(); p != nil {
					results[r] = fmt.Errorf("%w: %v\n%s", ErrPanic, p, debug.Stack())
				} else if !returned {
					results[r] = ErrGoexit
				}
			}()
			results[r] = body(r)
			returned = true
		}()
	}
	started.Wait()
	errs := make([]error, n)
	var expired <-chan time.Time
	if lim.Timeout > 0 {
		timer := time.NewTimer(lim.Timeout)
		defer timer.Stop()
		expired = timer.C
	}
	var hung []int
	traces := make([]string, n) // the stacks of hung ranks, for their errors
	for r := range n {
		select {
		case <-done[r]:
			continue
		case <-expired:
		}
		// Time is up: every rank still running is hung. Take their
		// stacks before stopping any of them.
		stacks := allStacks()
		for q := r; q < n; q++ {
			select {
			case <-done[q]:
			default:
				hung = append(hung, q)
				call, trace := describeBlocked(stacks, ids[q], lim.API)
				errs[q] = fmt.Errorf("%w: still running after %v, blocked in %s", ErrHung, lim.Timeout, call)
				traces[q] = trace
			}
		}
		break
	}
	for _, q := range hung {
		if lim.Stop != nil {
			lim.Stop(q)
		}
	}
	grace := time.NewTimer(lim.Grace)
	defer grace.Stop()
	for _, q := range hung {
		select {
		case <-done[q]:
			errs[q] = fmt.Errorf("%w; stopped\n%s", errs[q], traces[q])
		case <-grace.C:
			errs[q] = fmt.Errorf("%w; still running %v after being stopped: its goroutine is left behind\n%s", errs[q], lim.Grace, traces[q])
		}
	}
	for r := range n {
		if errs[r] == nil {
			<-done[r]
			errs[r] = results[r]
		}
	}
	return errs
}

// TimeoutFor is the time a job of a test may take: def, or less when the
// test binary's deadline (go test -timeout) comes sooner, leaving a tenth of
// the remaining time (at least a second) to report and end the hung ranks
// before the whole test binary is killed. tb is a testing.TB; it has a
// deadline when it is a *testing.T.
func TimeoutFor(tb any, def time.Duration) time.Duration {
	d, ok := tb.(interface{ Deadline() (time.Time, bool) })
	if !ok {
		return def
	}
	deadline, ok := d.Deadline()
	if !ok {
		return def
	}
	left := time.Until(deadline)
	left -= max(left/10, time.Second)
	if left < def {
		return max(left, time.Second)
	}
	return def
}
