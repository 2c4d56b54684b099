package mpi

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// TestExpectTransferCapsLongTransfers: a waiter polls through a body's
// expected copy time (4 GB/s), and through maxTransferSpin of a longer
// one, never through nothing (a 16 MiB ping-pong's sender then slept
// through every copy and paid a wake-up on each).
func TestExpectTransferCapsLongTransfers(t *testing.T) {
	for _, tc := range []struct {
		size int
		want time.Duration
	}{
		{0, 0},
		{1 << 20, 256 * time.Microsecond},
		{4 << 20, 1024 * time.Microsecond},
		{16 << 20, 4096 * time.Microsecond},
		{64 << 20, maxTransferSpin},
		{1 << 30, maxTransferSpin},
	} {
		var c completion
		c.expectTransfer(tc.size)
		if got := time.Duration(c.transfer.Load()); got != tc.want {
			t.Errorf("expectTransfer(%d): polls through %v, want %v", tc.size, got, tc.want)
		}
	}
}

// TestCompletionWakesEveryWaiter: waiters that ask for the channel before,
// during and after finish all wake and see finish's error, and a
// completion made pending again (init) serves the next operation the same
// way. Seeded, random interleavings; run it with -race too.
func TestCompletionWakesEveryWaiter(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 2026))
	var c completion
	for round := range 300 {
		c.init()
		if c.isDone() {
			t.Fatalf("round %d: pending completion reports done", round)
		}
		want := fmt.Errorf("round %d", round)
		waiters := 1 + rng.IntN(4)
		delays := make([]time.Duration, waiters)
		for i := range delays {
			delays[i] = time.Duration(rng.IntN(50)) * time.Microsecond
		}
		finishAfter := time.Duration(rng.IntN(50)) * time.Microsecond
		var wg sync.WaitGroup
		errs := make([]error, waiters)
		for i := range waiters {
			wg.Go(func() {
				time.Sleep(delays[i])
				<-c.done()
				if !c.isDone() {
					errs[i] = fmt.Errorf("woke before the completion finished")
					return
				}
				errs[i] = c.err
			})
		}
		time.Sleep(finishAfter)
		c.finish(want)
		wg.Wait()
		for i, err := range errs {
			if err != want {
				t.Fatalf("round %d, waiter %d of %d (asked after %v, finished after %v): got %v, want %v",
					round, i, waiters, delays[i], finishAfter, err, want)
			}
		}
		select {
		case <-c.done():
		default:
			t.Fatalf("round %d: the channel of a finished completion is open", round)
		}
	}
}
