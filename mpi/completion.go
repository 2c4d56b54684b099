package mpi

import (
	"sync/atomic"
	"time"
)

// completion is the end of an operation, signalled once: a closed channel to
// sleep on and a flag to poll.
type completion struct {
	done     chan struct{}
	finished atomic.Bool
	err      error
	// transfer is how long moving the operation's body is expected to take
	// (nanoseconds; 0 for small messages): a waiter keeps polling that much
	// longer before it sleeps, since a wake-up after a sleep costs tens of
	// microseconds (see engine.await).
	transfer atomic.Int64
}

// Polling through a large transfer: the expected copy rate, and the
// longest a waiter polls through one transfer (a longer one is polled
// that long, then slept through).
const (
	transferBytesPerMicrosecond = 4 << 10 // 4 GB/s
	maxTransferSpin             = 10 * time.Millisecond
)

// expectTransfer records that c moves size bytes.
func (c *completion) expectTransfer(size int) {
	d := time.Duration(size/transferBytesPerMicrosecond) * time.Microsecond
	c.transfer.Store(int64(min(d, maxTransferSpin)))
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
