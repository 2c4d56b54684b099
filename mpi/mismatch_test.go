package mpi

import (
	"context"
	"errors"
	"github.com/gorun-mpi/gorun/internal/ranks"
	"strings"
	"testing"
)

// runMismatched runs body on n ranks over the in-memory transport (so the
// collectives go by messages) and returns each rank's error.
func runMismatched(t *testing.T, n int, body func(c *Comm) error) []error {
	t.Helper()
	return runOver(t, ranks.InMemory, n, func(world *Comm) error {
		err := body(world)
		// No rank finalizes before every rank is done: a peer that
		// finished would fail the others' calls with ErrPeerLost.
		var token int
		if world.Rank() == 0 {
			for q := 1; q < n; q++ {
				world.Recv(&token, AnySource, 77)
			}
			for q := 1; q < n; q++ {
				world.Send(0, q, 78)
			}
		} else {
			world.Send(0, 0, 77)
			world.Recv(&token, 0, 78)
		}
		return err
	})
}

// thenBarrier is err, or, when the call succeeded on this rank (its part
// did not need the rank that differs), the error of the next collective.
func thenBarrier(c *Comm, err error) error {
	if err != nil {
		return err
	}
	if err := c.Barrier(); err != nil {
		return err
	}
	return errors.New("no error, neither in the call nor in the next one")
}

// expectMismatch checks that every rank's error is an *Error wrapping
// ErrCollectiveMismatch whose message names every call in calls.
func expectMismatch(t *testing.T, errs []error, calls ...string) {
	t.Helper()
	for r, err := range errs {
		var mpiErr *Error
		if !errors.Is(err, ErrCollectiveMismatch) || !errors.As(err, &mpiErr) {
			t.Errorf("rank %d: %v, want an *Error wrapping ErrCollectiveMismatch", r, err)
			continue
		}
		for _, call := range calls {
			if !strings.Contains(err.Error(), "called "+call) {
				t.Errorf("rank %d: %v does not name %q", r, err, call)
			}
		}
	}
}

func TestMismatchBarrierAgainstBcast(t *testing.T) {
	errs := runMismatched(t, 3, func(c *Comm) error {
		if c.Rank() == 0 {
			return thenBarrier(c, c.Barrier())
		}
		_, err := Bcast(c, 42, 1)
		return thenBarrier(c, err)
	})
	expectMismatch(t, errs, "Barrier", "Bcast(root 1)")
	if !strings.HasPrefix(errs[0].Error(), "mpi: rank 0 Barrier: collective mismatch: ") {
		t.Errorf("rank 0: %q, want it to read mpi: rank 0 Barrier: collective mismatch: ...", errs[0])
	}
}

// TestMismatchReduceAgainstAllreduce: at np=3 rank 0 (Reduce to 0) and rank
// 1 (Allreduce, folding rank 0 in) both start by waiting for the other:
// only the ping of a long wait can tell them.
func TestMismatchReduceAgainstAllreduce(t *testing.T) {
	errs := runMismatched(t, 3, func(c *Comm) error {
		if c.Rank() == 0 {
			_, err := Reduce(c, 1, Sum, 0)
			return thenBarrier(c, err)
		}
		_, err := Allreduce(c, 1, Sum)
		return thenBarrier(c, err)
	})
	expectMismatch(t, errs, "Reduce(root 0)", "Allreduce")
}

func TestMismatchRootsOnSplit(t *testing.T) {
	errs := runMismatched(t, 4, func(w *Comm) error {
		c, err := w.Split(w.Rank()%2, w.Rank())
		if err != nil {
			return err
		}
		root := 1
		if c.Rank() == 0 {
			root = 0
		}
		_, err = Bcast(c, []float64{1, 2}, root)
		return thenBarrier(c, err)
	})
	expectMismatch(t, errs, "Bcast(root 0)", "Bcast(root 1)")
}

func TestMismatchElementTypes(t *testing.T) {
	errs := runMismatched(t, 2, func(c *Comm) error {
		var err error
		if c.Rank() == 0 {
			_, err = Allreduce(c, 1, Sum)
		} else {
			_, err = Allreduce(c, 1.5, Sum)
		}
		return thenBarrier(c, err)
	})
	expectMismatch(t, errs, "Allreduce(of int)", "Allreduce(of float64)")
}

// TestMismatchReduceSliceLengths: a leaf that only sends its operand learns
// of the difference in its next call.
func TestMismatchReduceSliceLengths(t *testing.T) {
	errs := runMismatched(t, 4, func(c *Comm) error {
		v := make([]float64, 5+c.Rank()/3) // rank 3 has 6
		_, err := ReduceSlice(c, v, Sum, 0)
		return thenBarrier(c, err)
	})
	expectMismatch(t, errs, "ReduceSlice(root 0, 5 elements)", "ReduceSlice(root 0, 6 elements)")
	for r, err := range errs {
		if !errors.Is(err, ErrLengthMismatch) {
			t.Errorf("rank %d: %v does not wrap ErrLengthMismatch", r, err)
		}
	}
}

// TestMismatchBreaksCollectivesOnly: after a mismatch every collective call
// on the communicator fails at once, on every rank, while point to point
// keeps working and other communicators are unaffected.
func TestMismatchBreaksCollectivesOnly(t *testing.T) {
	errs := runMismatched(t, 3, func(w *Comm) error {
		c, err := w.Dup()
		if err != nil {
			return err
		}
		other, err := w.Dup()
		if err != nil {
			return err
		}
		if c.Rank() == 2 {
			_, err = Gather(c, []int{1}, 0)
		} else {
			_, err = Allgather(c, []int{1})
		}
		err = thenBarrier(c, err)
		if !errors.Is(err, ErrCollectiveMismatch) {
			return err
		}
		for range 3 {
			if _, again := Allreduce(c, 1, Sum); !errors.Is(again, ErrCollectiveMismatch) {
				return errors.New("a collective after the mismatch: " + errString(again))
			}
		}
		if sum, err := Allreduce(other, 1, Sum); err != nil || sum != 3 {
			return errors.New("another communicator after the mismatch: " + errString(err))
		}
		next, prev := (c.Rank()+1)%3, (c.Rank()+2)%3
		var got int
		if _, err := c.Sendrecv(c.Rank(), next, 5, &got, prev, 5); err != nil || got != prev {
			return errors.New("point to point after the mismatch: " + errString(err))
		}
		return err
	})
	expectMismatch(t, errs, "Gather(root 0)", "Allgather")
}

// TestMismatchWithContext: a context-bound view finds the mismatch too.
func TestMismatchWithContext(t *testing.T) {
	errs := runMismatched(t, 3, func(w *Comm) error {
		c := w.WithContext(context.Background())
		if c.Rank() == 1 {
			_, err := Scan(c, 1, Sum)
			return thenBarrier(c, err)
		}
		_, err := Allreduce(c, 1, Sum)
		return thenBarrier(c, err)
	})
	expectMismatch(t, errs, "Scan", "Allreduce")
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// TestMismatchSplitAgainstBarrier: Split runs a collective exchange of its
// own, checked like the others.
func TestMismatchSplitAgainstBarrier(t *testing.T) {
	errs := runMismatched(t, 3, func(c *Comm) error {
		if c.Rank() == 1 {
			_, err := c.Split(0, 0)
			return thenBarrier(c, err)
		}
		return thenBarrier(c, c.Barrier())
	})
	expectMismatch(t, errs, "Split or Dup", "Barrier")
}
