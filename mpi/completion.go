package mpi

import (
	"sync/atomic"
	"time"
)

// completion is the end of an operation, signalled once: a state to poll
// and, made only for a waiter that goes to sleep, a channel to sleep on.
// It allocates nothing until someone sleeps, so an operation that a poller
// sees finish costs no channel, and a completion can be reused (see
// recvPool) once its waiter has seen it finished: finish touches nothing of
// the completion after the store that marks it finished.
type completion struct {
	// state is nil while the operation is pending and nobody sleeps on
	// it, a sleeper's waker while one does, and finishedWaker once finished.
	state atomic.Pointer[waker]
	err   error
	// transfer is how long moving the operation's body is expected to take
	// (nanoseconds; 0 for small messages): a waiter keeps polling that much
	// longer before it sleeps, since a wake-up after a sleep costs tens of
	// microseconds (see engine.await).
	transfer atomic.Int64
}

// waker is the channel the sleepers of one completion wait on; finish
// closes it.
type waker struct{ ch chan struct{} }

// finishedWaker marks a finished completion. Its channel is closed, so a waiter
// that asks for the channel of a finished completion does not block. It is
// never changed.
var finishedWaker = func() *waker {
	w := &waker{ch: make(chan struct{})}
	close(w.ch)
	return w
}()

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

// init makes c pending again (a new operation, or a reused one whose
// waiter saw it finished). Nobody else sees c yet, and a zeroed c (a
// recycled request's) is pending already: the stores, each a locked
// instruction (and the pointer's a call into the runtime), are made only
// when needed. (Tried: the state as a 32-bit word, its atomics the
// instructions alone: the one-goroutine round trip 7.6% slower, 3 of 30
// alternated runs faster, unexplained; the 8-byte ping-pong 3% faster, 7
// of 12. Dropped.)
func (c *completion) init() {
	if c.state.Load() != nil {
		c.state.Store(nil)
	}
	c.err = nil
	if c.transfer.Load() != 0 {
		c.transfer.Store(0)
	}
}

// finish records err and wakes the waiters. It must be called exactly once,
// by whoever removed the operation from the engine's tables. Once the
// state says finished, the waiter may reuse c: nothing of c is touched
// after that store.
func (c *completion) finish(err error) {
	c.err = err
	if w := c.state.Swap(finishedWaker); w != nil && w != finishedWaker {
		close(w.ch)
	}
}

// isDone reports whether c is finished.
func (c *completion) isDone() bool { return c.state.Load() == finishedWaker }

// done returns a channel that is closed when c finishes, making it the
// first time a waiter asks while c is pending.
func (c *completion) done() <-chan struct{} {
	for {
		if w := c.state.Load(); w != nil {
			return w.ch
		}
		w := &waker{ch: make(chan struct{})}
		if c.state.CompareAndSwap(nil, w) {
			return w.ch
		}
	}
}
