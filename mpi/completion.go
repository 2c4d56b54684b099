package mpi

import "sync/atomic"

// completion is the end of an operation, signalled once: a closed channel to
// sleep on and a flag to poll.
type completion struct {
	done     chan struct{}
	finished atomic.Bool
	err      error
}

func (c *completion) init() { c.done = make(chan struct{}) }

// finish records err and wakes the waiters. It must be called exactly once,
// by whoever removed the operation from the engine's tables.
func (c *completion) finish(err error) {
	c.err = err
	c.finished.Store(true)
	close(c.done)
}

func (c *completion) isDone() bool { return c.finished.Load() }
