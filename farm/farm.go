package farm

import (
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/gorun-mpi/gorun/mpi"
)

// ErrPanic is wrapped by the error of a task whose fn panicked (or of a
// callback that panicked).
var ErrPanic = errors.New("farm: panic")

// TaskError is how a farm fails: the task (its index in the inputs) and
// the rank where it failed, and why. It unwraps to the cause.
type TaskError struct {
	Index int   // the input's index; -1 when no task was involved
	Rank  int   // the rank, in the communicator given to the farm
	Err   error // the cause: fn's error, ErrPanic, an mpi error, ...
}

// Error reads like "farm: task 17 on rank 2: no such file".
func (e *TaskError) Error() string {
	cause := strings.TrimPrefix(e.Err.Error(), "farm: ")
	if e.Index < 0 {
		return fmt.Sprintf("farm: rank %d: %s", e.Rank, cause)
	}
	return fmt.Sprintf("farm: task %d on rank %d: %s", e.Index, e.Rank, cause)
}

// Unwrap returns the cause.
func (e *TaskError) Unwrap() error { return e.Err }

// Option configures a farm.
type Option func(*config)

type config struct {
	chunk int // inputs per message; 0: automatic
}

// WithChunk makes the master hand out n inputs at a time (n < 1: the
// automatic size, the default). Chunks save messages when tasks are tiny;
// 1 suits tasks that are already large, or inputs that are batches
// themselves. The automatic size starts at 1 and grows until a chunk takes
// the worker about 2 ms (or its messages reach 1 MiB; inputs whose task and
// result take 64 KiB or more go one at a time), and shrinks again toward
// the end so that the last chunks are small and the workers finish
// together.
func WithChunk(n int) Option {
	return func(c *config) { c.chunk = max(n, 0) }
}

// Map runs fn on every input and returns the outputs in input order, on
// rank 0. Every rank of c calls Map; only rank 0's inputs are used (the
// others may pass nil) and only rank 0 gets the results: the others return
// nil, nil when the farm succeeds. When it fails, every rank returns a
// *TaskError (see the package documentation).
//
// With more than one rank, rank 0 only hands out work and the other ranks
// run fn; with one rank, rank 0 runs every task itself.
func Map[In, Out any](c *mpi.Comm, inputs []In, fn func(In) (Out, error), opts ...Option) ([]Out, error) {
	var outs []Out
	if c.Rank() == 0 {
		outs = make([]Out, len(inputs))
	}
	err := Run(c, inputs, fn, func(i int, out Out) { outs[i] = out }, opts...)
	if err != nil || c.Rank() != 0 {
		return nil, err
	}
	return outs, nil
}

// Run runs fn on every input, as Map does, and calls callback on rank 0
// with each input's index and output as soon as it arrives: in whatever
// order the workers finish, one call at a time, on the goroutine that
// called Run (keep it quick: the master hands out no work meanwhile, though
// each worker holds its next task already). callback may be nil; the
// workers never call it. Run returns on every rank once every task is done
// and every worker has stopped; when the farm fails, once every worker has
// finished the task it was running, with the same *TaskError on every rank.
func Run[In, Out any](c *mpi.Comm, inputs []In, fn func(In) (Out, error), callback func(i int, out Out), opts ...Option) error {
	if c != nil && c.Rank() != 0 {
		inputs = nil // only rank 0's are used
	}
	return run(c, fromSlice(inputs), fn, callback, opts)
}

// RunSeq is Run over a sequence of inputs that rank 0 produces as the
// farm goes: the master takes the next inputs from it only when a worker
// needs more (each worker holds up to two tasks), so producing them
// overlaps with running them and only the inputs handed out and not yet
// answered are held at once: a generator of requests, lines read from a
// file, or chunks of a data set too large to hold whole (Pool.imap's
// lazily consumed iterable). i in callback(i, out) is the input's position
// in the sequence. The master may still be sending an input after the
// sequence has moved on: yield a fresh value each time, not a buffer that
// is then overwritten. Only rank 0's sequence is used (the others may pass
// nil). When the sequence panics, the farm fails as a task that panicked
// does, naming the input it was producing; when the farm fails, the
// sequence is stopped (its yield returns false).
func RunSeq[In, Out any](c *mpi.Comm, inputs iter.Seq[In], fn func(In) (Out, error), callback func(i int, out Out), opts ...Option) error {
	if c != nil && c.Rank() != 0 {
		inputs = nil
	}
	return run(c, fromSeq(inputs), fn, callback, opts)
}

// run is Run and RunSeq: a farm over inputs.
func run[In, Out any](c *mpi.Comm, inputs *source[In], fn func(In) (Out, error), callback func(i int, out Out), opts []Option) error {
	defer inputs.close()
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if callback == nil {
		callback = func(int, Out) {}
	}
	if c.Size() == 1 {
		return runLocal(inputs, fn, callback)
	}
	d, err := c.Dup() // the farm's own message space
	if err != nil {
		return &TaskError{Index: -1, Rank: c.Rank(), Err: err}
	}
	if d.Rank() == 0 {
		m := newMaster(d, inputs, callback, cfg)
		return m.run()
	}
	return work(d, fn)
}

// runLocal is the farm of one rank: every task in order, here.
func runLocal[In, Out any](inputs *source[In], fn func(In) (Out, error), callback func(int, Out)) error {
	for {
		ins, i, err := inputs.take(1)
		if err != nil {
			return &TaskError{Index: i, Rank: 0, Err: err}
		}
		if len(ins) == 0 {
			return nil
		}
		out, err := call(fn, ins[0])
		if err != nil {
			return &TaskError{Index: i, Rank: 0, Err: err}
		}
		if err := deliver(callback, i, out); err != nil {
			return &TaskError{Index: i, Rank: 0, Err: err}
		}
	}
}

// call runs fn on in, turning a panic into an error wrapping ErrPanic.
func call[In, Out any](fn func(In) (Out, error), in In) (out Out, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	return fn(in)
}

// deliver runs the callback, turning a panic into an error wrapping
// ErrPanic.
func deliver[Out any](callback func(int, Out), i int, out Out) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w in the callback: %v", ErrPanic, r)
		}
	}()
	callback(i, out)
	return nil
}

// runChunk runs fn on a chunk of inputs into outs, stopping at the first
// failure: it returns how long the tasks took and, on a failure, the
// failed input's offset in the chunk (else -1) and the error.
func runChunk[In, Out any](fn func(In) (Out, error), ins []In, outs []Out) (time.Duration, int, error) {
	start := time.Now()
	for j, in := range ins {
		out, err := call(fn, in)
		if err != nil {
			return time.Since(start), j, err
		}
		outs[j] = out
	}
	return time.Since(start), -1, nil
}
