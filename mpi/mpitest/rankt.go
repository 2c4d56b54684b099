package mpitest

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// rankT is one rank's testing.TB: failures name the rank and mark the test
// failed; FailNow and SkipNow end the rank's goroutine only. Other methods
// (TempDir, Cleanup, Context, ...) are the test's.
type rankT struct {
	testing.TB
	rank int

	mu      sync.Mutex
	failed  bool
	skipped bool
}

func (r *rankT) prefix(s string) string { return fmt.Sprintf("rank %d: %s", r.rank, s) }

// Name is the test's name with the rank: "TestX/rank2".
func (r *rankT) Name() string { return fmt.Sprintf("%s/rank%d", r.TB.Name(), r.rank) }

// Fail marks the rank, and so the test, failed.
func (r *rankT) Fail() {
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
	r.TB.Fail()
}

// Failed reports whether this rank has failed.
func (r *rankT) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// FailNow marks the rank failed and ends its goroutine; its world is then
// finalized.
func (r *rankT) FailNow() {
	r.Fail()
	runtime.Goexit()
}

// Error is Log then Fail.
func (r *rankT) Error(args ...any) {
	r.TB.Helper()
	r.TB.Error(r.prefix(fmt.Sprintln(args...)))
	r.Fail()
}

// Errorf is Logf then Fail.
func (r *rankT) Errorf(format string, args ...any) {
	r.TB.Helper()
	r.TB.Error(r.prefix(fmt.Sprintf(format, args...)))
	r.Fail()
}

// Fatal is Log then FailNow.
func (r *rankT) Fatal(args ...any) {
	r.TB.Helper()
	r.TB.Error(r.prefix(fmt.Sprintln(args...)))
	r.FailNow()
}

// Fatalf is Logf then FailNow.
func (r *rankT) Fatalf(format string, args ...any) {
	r.TB.Helper()
	r.TB.Error(r.prefix(fmt.Sprintf(format, args...)))
	r.FailNow()
}

// Log logs with the rank's prefix.
func (r *rankT) Log(args ...any) {
	r.TB.Helper()
	r.TB.Log(r.prefix(fmt.Sprintln(args...)))
}

// Logf logs with the rank's prefix.
func (r *rankT) Logf(format string, args ...any) {
	r.TB.Helper()
	r.TB.Log(r.prefix(fmt.Sprintf(format, args...)))
}

// SkipNow ends the rank's goroutine; when no rank failed, Run then skips
// the test.
func (r *rankT) SkipNow() {
	r.mu.Lock()
	r.skipped = true
	r.mu.Unlock()
	runtime.Goexit()
}

// Skip is Log then SkipNow.
func (r *rankT) Skip(args ...any) {
	r.TB.Helper()
	r.Log(args...)
	r.SkipNow()
}

// Skipf is Logf then SkipNow.
func (r *rankT) Skipf(format string, args ...any) {
	r.TB.Helper()
	r.Logf(format, args...)
	r.SkipNow()
}

// Skipped reports whether this rank skipped.
func (r *rankT) Skipped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped
}

// Helper marks nothing: the test's Helper would mark this method. Calls
// through rankT report the line of the rank's code that made them.
func (r *rankT) Helper() {}
