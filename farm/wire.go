package farm

import (
	"errors"

	"github.com/gorun-mpi/gorun/mpi"
)

// The farm's messages, on its own Dup of the caller's communicator.
const (
	tagTask    = 1 // master -> worker: one input (In)
	tagTasks   = 2 // master -> worker: a chunk of inputs ([]In)
	tagStop    = 3 // master -> worker: the farm is over (verdict)
	tagHeader  = 4 // worker -> master: how a task went (header)
	tagResult  = 5 // worker -> master: one output (Out), after a header
	tagResults = 6 // worker -> master: a chunk's outputs ([]Out), after a header
)

// prefetch is how many tasks a worker holds at most: the one it runs and
// the next, so it never waits for the master between two tasks.
const prefetch = 2

// header answers each task a worker receives, before its outputs (sent
// only when the task succeeded).
type header struct {
	Nanos   int64  // how long fn took for the whole chunk
	Size    int    // bytes of the task's message
	Skipped bool   // not run: the farm was stopping
	Failed  int    // offset in the chunk of the input that failed, when Err != ""
	Err     string // fn's error
	Panic   bool   // fn panicked
}

// verdict ends a worker's part: how the farm ended.
type verdict struct {
	Failed bool
	Index  int    // the failed task, or -1
	Rank   int    // where it failed
	Err    string // the error's text
	Panic  bool   // the cause wraps ErrPanic
	Lost   bool   // the cause wraps mpi.ErrPeerLost
}

// verdictOf describes err (nil: success) for the workers.
func verdictOf(err *TaskError) verdict {
	if err == nil {
		return verdict{Index: -1}
	}
	return verdict{Failed: true, Index: err.Index, Rank: err.Rank, Err: err.Err.Error(),
		Panic: errors.Is(err, ErrPanic), Lost: errors.Is(err, mpi.ErrPeerLost)}
}

// err rebuilds the master's error on a worker (nil: success).
func (v verdict) err() error {
	if !v.Failed {
		return nil
	}
	cause := remoteError{msg: v.Err}
	switch {
	case v.Panic:
		cause.is = ErrPanic
	case v.Lost:
		cause.is = mpi.ErrPeerLost
	}
	return &TaskError{Index: v.Index, Rank: v.Rank, Err: cause}
}

// remoteError is an error that happened on another rank: its text, and
// the sentinel it wrapped there, if one is known here.
type remoteError struct {
	msg string
	is  error
}

func (e remoteError) Error() string { return e.msg }
func (e remoteError) Unwrap() error { return e.is }
