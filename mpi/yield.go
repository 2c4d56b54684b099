package mpi

import "time"

// yieldLong: a yield that kept the core away longer than this gave it to a
// process with work (not a rank polling by turns), so the wait sleeps
// instead of yielding again: a sleeper is woken ahead of a running hog, a
// yielder waits behind it (see arenaYieldLong in package collectives).
const yieldLong = 50 * time.Microsecond

// yieldBriefly yields the core and reports whether the core came back
// within yieldLong.
func yieldBriefly() bool {
	start := time.Now()
	yieldCore()
	return time.Since(start) < yieldLong
}
