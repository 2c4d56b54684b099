package mpi_test

import (
	"errors"
	"testing"

	"github.com/gorun-mpi/gorun/mpi"
	"github.com/gorun-mpi/gorun/mpi/mpitest"
)

// TestAllreduceNumberAgainstString: Allreduce of a number goes through the
// world's shared memory where there is some, Allreduce of a string by
// messages; ranks that mix them, on every transport, all get
// ErrCollectiveMismatch instead of waiting for each other, and a rank that
// calls the matching Allreduce after them gets the sum.
func TestAllreduceNumberAgainstString(t *testing.T) {
	for _, network := range mpitest.Networks() {
		t.Run(string(network), func(t *testing.T) {
			for range 10 {
				mpitest.Run(t, 3, func(t testing.TB, world *mpi.Comm) {
					var err error
					if world.Rank() == 1 {
						_, err = mpi.Allreduce(world, "x", func(a, b string) string { return a + b })
					} else {
						_, err = mpi.Allreduce(world, 1.5, mpi.Sum)
					}
					if !errors.Is(err, mpi.ErrCollectiveMismatch) {
						t.Errorf("%v, want ErrCollectiveMismatch", err)
					}
				}, mpitest.Transport(network))
				if t.Failed() {
					return
				}
			}
		})
	}
}

// TestAllreduceNumbersBackToBack: a loop of Allreduce calls of a number
// gives every rank the exact sum each time, on every transport.
func TestAllreduceNumbersBackToBack(t *testing.T) {
	for _, network := range mpitest.Networks() {
		t.Run(string(network), func(t *testing.T) {
			mpitest.Run(t, 4, func(t testing.TB, world *mpi.Comm) {
				for call := range 200 {
					got, err := mpi.Allreduce(world, int64(call*10+world.Rank()), mpi.Sum)
					if err != nil {
						t.Fatalf("call %d: %v", call, err)
					}
					if want := int64(call*40 + 6); got != want {
						t.Fatalf("call %d: got %d, want %d", call, got, want)
					}
				}
			}, mpitest.Transport(network))
		})
	}
}
